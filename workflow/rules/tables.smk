# Paper tables (csv, markdown, LaTeX), the comparison with the published numbers, and the report
# figures. Which tables exist is decided from the config (pvigroup.tables.plan_tables): a table
# whose stage is not configured is left out here and listed as skipped in results/tables/index.md.


include: "tables_inputs.smk"


rule tables:
    input:
        tb.table_outputs(config),
        tb.report_plots(config),


rule plots:
    input:
        tb.report_plots(config),


rule make_table:
    input:
        unpack(table_files),
    output:
        csv=report(
            "results/tables/table{nn}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{nn}"},
        ),
        md="results/tables/table{nn}.md",
        tex="results/tables/table{nn}.tex",
        meta="results/tables/table{nn}.meta.json",
    log:
        "logs/tables/table{nn}/make_table.log",
    wildcard_constraints:
        nn=wf.one_of(TABLE_INPUTS),
    conda:
        "../../envs/stats.yaml"
    params:
        settings=table_settings,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/make_table.py"


rule make_table_index:
    output:
        "results/tables/index.md",
    log:
        "logs/tables/make_table_index.log",
    conda:
        "../../envs/stats.yaml"
    params:
        plans=tb.plan_summary(config),
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/make_table_index.py"


rule make_table_comparison:
    input:
        unpack(comparison_files),
    output:
        "results/tables/paper_comparison.md",
    log:
        "logs/tables/make_table_comparison.log",
    conda:
        "../../envs/stats.yaml"
    params:
        settings=tb.comparison_settings(config),
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/make_table_comparison.py"


rule plot_pvi_violin:
    input:
        model_pvi_files,
    output:
        report(
            "results/plots/{model}/pvi_violin.png",
            caption="../report/pvi_violin.rst",
            category="PVI",
            labels={"model": "{model}", "figure": "PVI per task"},
        ),
    log:
        "logs/plots/{model}/plot_pvi_violin.log",
    conda:
        "../../envs/stats.yaml"
    params:
        tasks=tasks_for_plot,
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_pvi_violin.py"


rule plot_pair_pvalues:
    input:
        "results/stats/{model}/pairs.tsv",
    output:
        report(
            "results/plots/{model}/pair_pvalues.png",
            caption="../report/pair_pvalues.rst",
            category="Grouping",
            labels={"model": "{model}", "figure": "pair p-values"},
        ),
    log:
        "logs/plots/{model}/plot_pair_pvalues.log",
    conda:
        "../../envs/stats.yaml"
    params:
        alpha=config["stats"]["alpha"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_pair_pvalues.py"


rule plot_pvi_forest:
    input:
        "results/stats/{model}/pairs.tsv",
    output:
        report(
            "results/plots/{model}/pvi_forest.png",
            caption="../report/pvi_forest.rst",
            category="Grouping",
            labels={"model": "{model}", "figure": "PVI difference forest plot"},
        ),
    log:
        "logs/plots/{model}/plot_pvi_forest.log",
    conda:
        "../../envs/stats.yaml"
    params:
        margin=config["grouping"]["tost_margin"],
        alpha=config["stats"]["alpha"],
        test=config["grouping"]["test"],
        resamples=config["stats"]["bootstrap"]["resamples"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_pvi_forest.py"


rule plot_vinfo:
    input:
        "results/stats/{model}/vinfo.tsv",
    output:
        report(
            "results/plots/{model}/vinfo.png",
            caption="../report/vinfo.rst",
            category="PVI",
            labels={"model": "{model}", "figure": "V-information per task"},
        ),
    log:
        "logs/plots/{model}/plot_vinfo.log",
    conda:
        "../../envs/stats.yaml"
    params:
        seeds=config["pvi"]["variability_seeds"],
        resamples=config["stats"]["bootstrap"]["resamples"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_vinfo.py"


rule plot_sensitivity:
    input:
        "results/stats/{model}/sensitivity.tsv",
    output:
        report(
            "results/plots/{model}/sensitivity.png",
            caption="../report/sensitivity.rst",
            category="Grouping",
            labels={"model": "{model}", "figure": "grouping vs sample size"},
        ),
    log:
        "logs/plots/{model}/plot_sensitivity.log",
    conda:
        "../../envs/stats.yaml"
    params:
        alpha=config["stats"]["alpha"],
        test=config["grouping"]["test"],
        sizes=config["stats"]["sensitivity_sizes"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_sensitivity.py"


rule plot_groups:
    input:
        "results/groups/{model}/similar.tsv",
    output:
        report(
            "results/plots/{model}/groups.png",
            caption="../report/groups.rst",
            category="Grouping",
            labels={"model": "{model}", "figure": "accepted groups"},
        ),
    log:
        "logs/plots/{model}/plot_groups.log",
    conda:
        "../../envs/stats.yaml"
    params:
        alpha=config["stats"]["alpha"],
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_groups.py"


rule plot_stl_mtl:
    input:
        "results/train/{model}/aggregate.tsv",
    output:
        report(
            "results/plots/{model}/stl_mtl.png",
            caption="../report/stl_mtl.rst",
            category="STL vs MTL",
            labels={"model": "{model}", "figure": "STL vs MTL"},
        ),
    log:
        "logs/plots/{model}/plot_stl_mtl.log",
    conda:
        "../../envs/stats.yaml"
    params:
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_stl_mtl.py"


rule plot_label_distributions:
    input:
        expand("results/data/{task}/label_counts.tsv", task=TASKS),
    output:
        report(
            "results/plots/label_distributions.png",
            caption="../report/label_distributions.rst",
            category="Data",
            labels={"figure": "label distributions"},
        ),
    log:
        "logs/plots/plot_label_distributions.log",
    conda:
        "../../envs/stats.yaml"
    params:
        tasks=TASKS,
        names=TABLE_NAMES,
        provenance=TABLE_PROVENANCE,
    script:
        "../scripts/plot_label_distributions.py"
