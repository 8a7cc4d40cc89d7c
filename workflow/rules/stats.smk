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
    log:
        "logs/stats/{model}/pair_tests.log",
    benchmark:
        "benchmarks/stats/{model}/pair_tests.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        # the options this job reads (pvigroup.config.StatsSettings.JOBS)
        settings=STATS.as_params("pair_tests"),
    script:
        "../scripts/run_pair_tests.py"


rule group_tests:
    # every group of 3 .. max_group_size tasks in one job (vectorised ANOVA; larger sizes pruned
    # past pvigroup.workflow.EXHAUSTIVE_MAX); parquet past GROUP_TSV_MAX groups
    input:
        stats_model_pvi_files,
    output:
        "results/stats/{model}/triples.{ext}",
    log:
        "logs/stats/{model}/group_tests_{ext}.log",
    benchmark:
        "benchmarks/stats/{model}/group_tests_{ext}.tsv"
    wildcard_constraints:
        ext="tsv|parquet",
    conda:
        "../../envs/stats.yaml"
    params:
        # the options this job reads (pvigroup.config.StatsSettings.JOBS)
        settings=STATS.as_params("group_tests"),
    script:
        "../scripts/run_group_tests.py"


rule vinfo:
    input:
        main=stats_model_pvi_files,
        seeds=vinfo_replicate_files,
    output:
        "results/stats/{model}/vinfo.tsv",
    log:
        "logs/stats/{model}/vinfo.log",
    localrule: True
    conda:
        "../../envs/stats.yaml"
    params:
        resamples=STATS.bootstrap_resamples,
        seed=STATS.bootstrap_seed,
        main_seeds=vinfo_main_seeds,
    script:
        "../scripts/vinfo.py"


rule sensitivity:
    input:
        stats_model_pvi_files,
    output:
        table="results/stats/{model}/sensitivity.tsv",
        summary="results/stats/{model}/sensitivity_summary.tsv",
    log:
        "logs/stats/{model}/sensitivity.log",
    localrule: True
    conda:
        "../../envs/stats.yaml"
    params:
        # the options this job reads (pvigroup.config.StatsSettings.JOBS)
        settings=STATS.as_params("sensitivity"),
    script:
        "../scripts/sensitivity.py"
