# Task groups: similar (p > alpha), dissimilar (the negative control) and hand-listed groups.
# select_groups is the workflow's one checkpoint: the MTL jobs depend on what it writes.


checkpoint select_groups:
    input:
        unpack(select_groups_input),
    output:
        similar="results/groups/{model}/similar.tsv",
        dissimilar="results/groups/{model}/dissimilar.tsv",
    log:
        "logs/groups/{model}/select_groups.log",
    benchmark:
        "benchmarks/groups/{model}/select_groups.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        # the options this job reads (pvigroup.config.StatsSettings.JOBS)
        settings=STATS.as_params("select_groups"),
    script:
        "../scripts/select_groups.py"


rule manual_groups:
    output:
        "results/groups/{model}/manual.tsv",
    log:
        "logs/groups/{model}/manual_groups.log",
    conda:
        "../../envs/stats.yaml"
    params:
        # only this model's hand-listed groups: adding a task does not rerun this job
        groups=manual_groups_of_model,
    script:
        "../scripts/manual_groups.py"
