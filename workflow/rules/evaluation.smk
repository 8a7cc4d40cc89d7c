# Did the grouping help? Per model: the MTL - STL gain of every trained group and task (paired
# by seed), the grouping sources side by side with what computing each grouping cost, and
# whether the PVI test predicts the gain; then the report's figures and its one-sentence answer
# per model (docs/statistics.md, "Did the grouping help?"). Runs with the train stage.


include: "evaluation_inputs.smk"


rule evaluation:
    input:
        evaluation_targets,


rule evaluate_model:
    input:
        unpack(evaluation_input),
    output:
        gain="results/evaluation/{model}/gain.tsv",
        groups="results/evaluation/{model}/groups.tsv",
        methods="results/evaluation/{model}/methods.tsv",
        predictor="results/evaluation/{model}/predictor.tsv",
        pairs="results/evaluation/{model}/pairs.tsv",
    log:
        "logs/evaluation/{model}/evaluate_model.log",
    benchmark:
        "benchmarks/evaluation/{model}/evaluate_model.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        sources=config["train"]["sources"],
        alpha=config["stats"]["alpha"],
        level=config["train"]["ci_level"],
        seed=config["stats"]["seed"],
    script:
        "../scripts/evaluate_model.py"


rule plot_gain:
    input:
        "results/evaluation/{model}/groups.tsv",
    output:
        report(
            "results/plots/{model}/gain.png",
            caption="../report/gain.rst",
            category="Did the grouping help?",
            labels={"model": "{model}", "item": "MTL gain per group"},
        ),
    log:
        "logs/plots/{model}/plot_gain.log",
    benchmark:
        "benchmarks/plots/{model}/plot_gain.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_gain.py"


rule plot_predictor:
    input:
        pairs="results/evaluation/{model}/pairs.tsv",
        predictor="results/evaluation/{model}/predictor.tsv",
    output:
        report(
            "results/plots/{model}/pvi_predicts_gain.png",
            caption="../report/pvi_predicts_gain.rst",
            category="Did the grouping help?",
            labels={"model": "{model}", "item": "does PVI predict the gain?"},
        ),
    log:
        "logs/plots/{model}/plot_predictor.log",
    benchmark:
        "benchmarks/plots/{model}/plot_predictor.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        alpha=config["stats"]["alpha"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_predictor.py"


rule evaluation_answer:
    input:
        methods=expand("results/evaluation/{model}/methods.tsv", model=MODELS),
        predictors=expand("results/evaluation/{model}/predictor.tsv", model=MODELS),
    output:
        report(
            "results/evaluation/answer.html",
            caption="../report/evaluation_answer.rst",
            category="Did the grouping help?",
            labels={"model": "all", "item": "the answer, one sentence per model"},
        ),
    log:
        "logs/evaluation/evaluation_answer.log",
    benchmark:
        "benchmarks/evaluation/evaluation_answer.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/evaluation_answer.py"


EXTRA_TARGETS.append(evaluation_targets)
