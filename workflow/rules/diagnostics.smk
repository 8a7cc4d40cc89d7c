# Per-instance diagnostics from PVI: the lowest-PVI instances of each task as suspect labels
# (scored against the flip record where the wrong labels are known), the PVI by whether g'
# predicts the gold label, and the train/dev/test overlap found at preparation.
DIAGNOSTICS = config["diagnostics"]


include: "diagnostics_inputs.smk"


localrules:
    diagnostics,
    diagnose_task,
    plot_task_diagnostics,
    diagnostics_page,
    diagnostics_summary,


rule diagnostics:
    input:
        dg.targets(config),


rule diagnose_task:
    input:
        unpack(diagnostics_flip_records),
        pvi="results/pvi/{model}/{task}.parquet",
        split=pvi_split_file,
        info="results/data/{task}/task.json",
    output:
        suspects="results/diagnostics/{model}/{task}.suspects.tsv",
        summary="results/diagnostics/{model}/{task}.json",
    log:
        "logs/diagnostics/{model}/{task}/diagnose_task.log",
    conda:
        "../../envs/stats.yaml"
    params:
        max_rows=DIAGNOSTICS["max_suspects"],
        max_pvi=DIAGNOSTICS["max_pvi"],
        text_chars=DIAGNOSTICS["text_chars"],
    script:
        "../scripts/diagnose_task.py"


rule plot_task_diagnostics:
    input:
        "results/pvi/{model}/{task}.parquet",
    output:
        "results/diagnostics/{model}/{task}.pvi_by_correct.png",
    log:
        "logs/diagnostics/{model}/{task}/plot_task_diagnostics.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/plot_task_diagnostics.py"


rule diagnostics_page:
    input:
        summary="results/diagnostics/{model}/{task}.json",
        suspects="results/diagnostics/{model}/{task}.suspects.tsv",
        figure="results/diagnostics/{model}/{task}.pvi_by_correct.png",
    output:
        report(
            "results/diagnostics/{model}/{task}.html",
            caption="../report/diagnostics_task.rst",
            category="Diagnostics",
            subcategory="{model}",
            labels={"model": "{model}", "task": "{task}", "item": "suspect labels and overlap"},
        ),
    log:
        "logs/diagnostics/{model}/{task}/diagnostics_page.log",
    conda:
        "../../envs/stats.yaml"
    params:
        rows=DIAGNOSTICS["report_rows"],
    script:
        "../scripts/diagnostics_page.py"


rule diagnostics_summary:
    input:
        diagnostics_task_files,
    output:
        table=report(
            "results/diagnostics/{model}/summary.tsv",
            caption="../report/diagnostics_summary.rst",
            category="Diagnostics",
            subcategory="{model}",
            labels={"model": "{model}", "task": "all", "item": "summary table"},
        ),
        figure=report(
            "results/diagnostics/{model}/negative_share.png",
            caption="../report/diagnostics_negative_share.rst",
            category="Diagnostics",
            subcategory="{model}",
            labels={"model": "{model}", "task": "all", "item": "negative-PVI share per task"},
        ),
    log:
        "logs/diagnostics/{model}/diagnostics_summary.log",
    conda:
        "../../envs/stats.yaml"
    params:
        tasks=diagnostics_tasks,
        names=config["tables"]["names"],
    script:
        "../scripts/diagnostics_summary.py"


EXTRA_TARGETS.append(diagnostics_targets)
