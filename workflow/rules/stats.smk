# Tests of difference between the PVI distributions of every pair and every group of tasks (one
# job per model for the pairs, one for the groups), each task's V-information with its bootstrap
# CI, and the sample-size sensitivity of the grouping.


include: "stats_inputs.smk"


rule pair_tests:
    # every pair of the model's tasks in one job (vectorised t tests), one row per pair
    input:
        stats_model_pvi_files,
    output:
        "results/stats/{model}/pairs.tsv",
    params:
        method=config["stats"]["pair_test"],
        seed=config["stats"]["seed"],
        tost_margin=TOST_MARGIN,
        tost_variance=config["grouping"]["tost_variance"],
        bootstrap_resamples=config["stats"]["bootstrap"]["resamples"],
        bootstrap_seed=config["stats"]["bootstrap"]["seed"],
        bootstrap_max_pairs=config["stats"]["bootstrap"]["max_pairs"],
        correction=config["stats"]["correction"],
        alpha=config["stats"]["alpha"],
        test=config["grouping"]["test"],
    log:
        "logs/stats/{model}/pair_tests.log",
    benchmark:
        "benchmarks/stats/{model}/pair_tests.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/run_pair_tests.py"


rule group_tests:
    # every group of 3 .. max_group_size tasks in one job (vectorised ANOVA; larger sizes pruned
    # past pvigroup.workflow.EXHAUSTIVE_MAX); parquet past GROUP_TSV_MAX groups
    input:
        stats_model_pvi_files,
    output:
        "results/stats/{model}/triples.{ext}",
    wildcard_constraints:
        ext="tsv|parquet",
    params:
        method=config["stats"]["group_test"],
        max_group_size=config["stats"]["max_group_size"],
        tost_margin=TOST_MARGIN,
        tost_variance=config["grouping"]["tost_variance"],
        correction=config["stats"]["correction"],
        alpha=config["stats"]["alpha"],
        test=config["grouping"]["test"],
    log:
        "logs/stats/{model}/group_tests_{ext}.log",
    benchmark:
        "benchmarks/stats/{model}/group_tests_{ext}.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/run_group_tests.py"


rule vinfo:
    input:
        main=stats_model_pvi_files,
        seeds=vinfo_replicate_files,
    output:
        "results/stats/{model}/vinfo.tsv",
    params:
        resamples=config["stats"]["bootstrap"]["resamples"],
        seed=config["stats"]["bootstrap"]["seed"],
        main_seeds=vinfo_main_seeds,
    log:
        "logs/stats/{model}/vinfo.log",
    localrule: True
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/vinfo.py"


rule sensitivity:
    input:
        stats_model_pvi_files,
    output:
        table="results/stats/{model}/sensitivity.tsv",
        summary="results/stats/{model}/sensitivity_summary.tsv",
    params:
        sizes=config["stats"]["sensitivity_sizes"],
        alpha=config["stats"]["alpha"],
        method=config["stats"]["pair_test"],
        group_method=config["stats"]["group_test"],
        seed=config["stats"]["seed"],
        max_group_size=config["stats"]["max_group_size"],
        correction=config["stats"]["correction"],
        rule=config["grouping"]["tie_break"],
        size_priority=config["grouping"]["size_priority"],
        test=config["grouping"]["test"],
        tost_margin=TOST_MARGIN,
        tost_variance=config["grouping"]["tost_variance"],
    log:
        "logs/stats/{model}/sensitivity.log",
    localrule: True
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/sensitivity.py"
