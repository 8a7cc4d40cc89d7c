# Tests of difference between the PVI distributions of every pair and every triple of tasks.


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
