"""Write the rehearsal's stand-in data: small files with the fields and labels that
config/paper.yaml declares for each task, at the paths it (or the overlay) names.

    python .test/paper/make_data.py            # writes .test/paper/data/ (deterministic)

The texts are made up. Some tasks carry a planted signal (the label's cue word is in the text:
boolq, rte, sst2, health-advice, thyme-neg, seed-uncert), the others have labels independent of
the text. Hub tasks get a train file and a validation file (the hub's splits), health advice and
causal language one file each with the public files' columns and integer codes, the clinical
tasks train/dev/test tsv files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORDS = ("patient", "study", "model", "result", "effect", "group", "treatment", "data", "case",
         "sample", "method", "value", "report", "trial", "level", "change")
CUES = ("alpha", "bravo", "charlie", "delta")
SIGNAL = {"boolq", "rte", "sst2", "health-advice", "thyme-neg", "seed-uncert"}

# task -> fields of a row, the label values, rows in train / validation
HUB = {
    "boolq": (["question", "passage", "idx", "label"], [0, 1]),
    "cb": (["premise", "hypothesis", "idx", "label"], [0, 1, 2]),
    "rte": (["premise", "hypothesis", "idx", "label"], [0, 1]),
    "copa": (["premise", "choice1", "choice2", "question", "idx", "label"], [0, 1]),
    "wic": (["word", "sentence1", "sentence2", "start1", "start2", "end1", "end2", "idx",
             "label"], [0, 1]),
    "cola": (["sentence", "label", "idx"], [0, 1]),
    "sst2": (["sentence", "label", "idx"], [0, 1]),
}
CLINICAL = {
    "thyme/neg": [0, 1], "thyme/mod": ["actual", "hypothetical", "hedged", "generic"],
    "seed/neg": [0, 1], "seed/uncert": [0, 1], "strat/neg": [0, 1], "strat/uncert": [0, 1],
}


def sentence(rng: np.random.Generator, task: str, k: int, label_pos: int, i: int) -> str:
    words = list(rng.choice(WORDS, size=6))
    if task in SIGNAL:
        words.insert(int(rng.integers(0, 6)), CUES[label_pos])
    return f"{' '.join(words)} {task} {k}.{i}"


def balanced(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % k)


def write(path: Path, header: list[str], rows: list[list], sep: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter=sep, quoting=csv.QUOTE_MINIMAL if sep == "," else
                            csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def hub_row(rng, task: str, fields: list[str], label: int, i: int) -> list:
    text = {f: sentence(rng, task, j, label, i) for j, f in enumerate(fields)}
    text.update(idx=i, label=label, question=("cause" if i % 2 else "effect") if task == "copa"
                else text.get("question"), word="bank",
                start1=0, start2=0, end1=4, end2=4)
    return [text[f] for f in fields]


def main(out: Path = HERE / "data") -> None:
    rng = np.random.default_rng(2024)
    for task, (fields, labels) in HUB.items():
        for split, n in (("train", 60), ("validation", 20)):
            y = balanced(rng, n, len(labels))
            write(out / "hub" / task / f"{split}.csv", fields,
                  [hub_row(rng, task, fields, int(c), i) for i, c in enumerate(y)])
    # health advice: label,pmid,sentence,design; 2-6 sentences per abstract
    rows, pmid, i = [], 31000000, 0
    while len(rows) < 150:
        pmid += 7
        for _ in range(int(rng.integers(2, 7))):
            c = int(rng.choice(3, p=[0.5, 0.3, 0.2]))
            rows.append([c, pmid, sentence(rng, "health-advice", 0, c, i), "observational"])
            i += 1
    write(out / "health_advice" / "annotations_structured_abstract.csv",
          ["label", "pmid", "sentence", "design"], rows)
    y = balanced(rng, 100, 4)
    write(out / "causal_language" / "pubmed_causal_language_use.csv", ["sentence", "label"],
          [[sentence(rng, "causal-language", 0, int(c), i), int(c)] for i, c in enumerate(y)])
    for name, labels in CLINICAL.items():
        corpus, kind = name.split("/")
        for split, n in (("train", 48), ("dev", 16), ("test", 16)):
            y = balanced(rng, n, len(labels))
            task = f"{corpus}-{kind}"
            write(out / corpus / f"{kind}_{split}.tsv", ["text", "label"],
                  [[sentence(rng, task, 0, int(c), i), labels[int(c)]] for i, c in enumerate(y)],
                  sep="\t")


if __name__ == "__main__":
    main()
