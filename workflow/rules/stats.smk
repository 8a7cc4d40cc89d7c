# Tests of difference between the PVI distributions of every pair and every triple of tasks,
# each task's V-information with its bootstrap CI, and the sample-size sensitivity of the grouping.


include: "stats_inputs.smk"


rule pair_test:
    input:
        pair_pvi_files,
    output:
        "results/stats/{model}/pairs/{pair}.json",
    params:
        method=config["stats"]["pair_test"],
        seed=config["stats"]["seed"],
        tost_margin=TOST_MARGIN,
        tost_variance=config["grouping"]["tost_variance"],
        bootstrap_resamples=config["stats"]["bootstrap"]["resamples"],
        bootstrap_seed=config["stats"]["bootstrap"]["seed"],
    log:
        "logs/stats/{model}/pairs/{pair}.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/run_test.py"


use rule pair_test as triple_test with:
    input:
        triple_pvi_files,
    output:
        "results/stats/{model}/triples/{triple}.json",
    params:
        method=config["stats"]["group_test"],
        seed=config["stats"]["seed"],
        tost_margin=TOST_MARGIN,
        tost_variance=config["grouping"]["tost_variance"],
        bootstrap_resamples=config["stats"]["bootstrap"]["resamples"],
        bootstrap_seed=config["stats"]["bootstrap"]["seed"],
    log:
        "logs/stats/{model}/triples/{triple}.log",


rule collect_tests:
    input:
        collected_tests,
    output:
        "results/stats/{model}/{kind}.tsv",
    wildcard_constraints:
        kind="pairs|triples",
    params:
        correction=config["stats"]["correction"],
    log:
        "logs/stats/{model}/collect_{kind}.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/collect_tests.py"


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
