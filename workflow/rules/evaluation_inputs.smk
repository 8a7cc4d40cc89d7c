# Input functions of evaluation.smk.


localrules:
    evaluation,
    evaluate_model,
    plot_gain,
    plot_predictor,
    evaluation_answer,


def evaluation_input(wildcards):
    """The model's collected runs, and its pair tests when it has two tasks or more."""
    files = {"summary": f"results/train/{wildcards.model}/summary.tsv"}
    if len(wf.model_tasks(config, wildcards.model)) >= 2:
        files["pairs"] = f"results/stats/{wildcards.model}/pairs.tsv"
    return files


def evaluation_targets(wildcards):
    """Every model's evaluation files and figures and the answer page (none without training)."""
    if not config["train"]["enabled"]:
        return []
    names = ("gain", "groups", "methods", "predictor", "pairs")
    return (
        [f"results/evaluation/{m}/{n}.tsv" for m in MODELS for n in names]
        + [f"results/plots/{m}/{f}.png" for m in MODELS for f in ("gain", "pvi_predicts_gain")]
        + ["results/evaluation/answer.html"]
    )
