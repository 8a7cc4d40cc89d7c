"""Generate the synthetic tasks of tests/data/tiny/ (committed; rerun to regenerate).

Four topics, sentences of shared filler words plus two or three topic words. ``clean-a``,
``clean-b`` and ``clean-c`` are twins of equal difficulty (independent draws), ``noisy`` is a
twin with 40 % of its labels flipped to another topic: planted difficulty.
"""

from pathlib import Path

import numpy as np
import pandas as pd

TOPICS = {
    "sport": "goal match team coach league striker referee stadium tournament keeper".split(),
    "food": "recipe oven garlic bread soup spicy dessert chef kitchen flavour".split(),
    "weather": "rain storm sunny forecast wind cloudy snow thunder humid frost".split(),
    "music": "guitar album concert melody drums singer chorus band piano rhythm".split(),
}
FILLER = ("the a of and to in is was it for on with as at by this that from but they "
          "today yesterday people some many very really just about").split()


def make(seed: int, n: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    rows = []
    for i in range(n):
        y = names[i % len(names)]
        words = list(rng.choice(FILLER, size=rng.integers(5, 9)))
        words += list(rng.choice(TOPICS[y], size=rng.integers(2, 4), replace=False))
        rng.shuffle(words)
        label = y
        if rng.random() < noise:
            label = names[(names.index(y) + rng.integers(1, len(names))) % len(names)]
        rows.append({"uid": f"s{seed}-{i}", "sentence": " ".join(words), "topic": label})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    out = Path(__file__).parent / "tiny"
    out.mkdir(exist_ok=True)
    for name, seed, noise in [("clean-a", 1, 0.0), ("clean-b", 2, 0.0), ("clean-c", 3, 0.0),
                              ("noisy", 4, 0.4)]:
        make(seed, 240, noise).to_csv(out / f"{name}.csv", index=False)
