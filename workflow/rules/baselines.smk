# Baseline groupings (Tables 11-14), see docs/baselines.md.
#   TaskEmb:   one taskemb_embed job per task -> taskemb_similarity -> baseline_groups
#   surrogate: one surrogate_run job per sampled subset -> surrogate_fit -> baseline_groups
#   TAG:       one tag_affinity job per model (one MTL run over all its tasks) -> baseline_groups
# baseline_groups is a checkpoint: train.smk reads its groups.tsv to schedule the MTL runs of
# the methods listed in train.sources. baselines_compare / baselines_beat_stl read the
# collected training table.


include: "baselines_inputs.smk"


rule taskemb_embed:
    input:
        unpack(taskemb_input),
        hub=hub_model_input,
    output:
        embedding="results/baselines/taskemb/{model}/{task}.npy",
        meta="results/baselines/taskemb/{model}/{task}.json",
    log:
        "logs/baselines/taskemb/{model}/{task}/taskemb_embed.log",
    benchmark:
        "benchmarks/baselines/taskemb/{model}/{task}/taskemb_embed.tsv"
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        gpu=GPU_JOB["gpu"],
        runtime=60,
    params:
        settings=bl.taskemb_settings(config),
        pretrained=model_pretrained,
        engine=config["engine"],
    script:
        "../scripts/taskemb_embed.py"


rule taskemb_similarity:
    input:
        taskemb_embeddings,
    output:
        "results/baselines/taskemb/{model}/similarity.tsv",
    log:
        "logs/baselines/taskemb/{model}/taskemb_similarity.log",
    benchmark:
        "benchmarks/baselines/taskemb/{model}/taskemb_similarity.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/taskemb_similarity.py"


rule surrogate_run:
    input:
        unpack(surrogate_input),
        hub=hub_model_input,
    output:
        "results/baselines/surrogate/{model}/runs/{subset}.json",
    log:
        "logs/baselines/surrogate/{model}/runs/{subset}/surrogate_run.log",
    benchmark:
        "benchmarks/baselines/surrogate/{model}/runs/{subset}/surrogate_run.tsv"
    wildcard_constraints:
        subset=rf"(?:{wf.one_of(TASKS)})(?:__(?:{wf.one_of(TASKS)}))+",
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        gpu=GPU_JOB["gpu"],
        runtime=120,
    params:
        settings=bl.surrogate_run_settings(config),
        pretrained=model_pretrained,
        engine=config["engine"],
    script:
        "../scripts/surrogate_run.py"


rule surrogate_fit:
    input:
        surrogate_runs,
    output:
        affinity="results/baselines/surrogate/{model}/affinity.tsv",
        coefficients="results/baselines/surrogate/{model}/coefficients.tsv",
    log:
        "logs/baselines/surrogate/{model}/surrogate_fit.log",
    benchmark:
        "benchmarks/baselines/surrogate/{model}/surrogate_fit.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        runtime=10,
    params:
        settings=(bl.surrogate_fit_settings(config) if "surrogate" in BASELINE_METHODS else {}),
        tasks=model_task_list,
    script:
        "../scripts/surrogate_fit.py"


rule tag_affinity:
    input:
        unpack(tag_input),
        hub=hub_model_input,
    output:
        affinity="results/baselines/tag/{model}/affinity.tsv",
        symmetric="results/baselines/tag/{model}/symmetric.tsv",
        meta="results/baselines/tag/{model}/affinity.json",
    log:
        "logs/baselines/tag/{model}/tag_affinity.log",
    benchmark:
        "benchmarks/baselines/tag/{model}/tag_affinity.tsv"
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        gpu=GPU_JOB["gpu"],
        runtime=120,
    params:
        settings=bl.tag_settings(config) if "tag" in BASELINE_METHODS else {},
        pretrained=model_pretrained,
        engine=config["engine"],
    script:
        "../scripts/tag_affinity.py"


checkpoint baseline_groups:
    input:
        baseline_matrix,
    output:
        "results/baselines/{method}/{model}/groups.tsv",
    log:
        "logs/baselines/{method}/{model}/baseline_groups.log",
    benchmark:
        "benchmarks/baselines/{method}/{model}/baseline_groups.tsv"
    wildcard_constraints:
        method="|".join(bl.METHODS),
    conda:
        "../../envs/stats.yaml"
    params:
        settings=baseline_group_params,
    script:
        "../scripts/baseline_groups.py"


rule baselines_compare:
    input:
        "results/train/{model}/aggregate.tsv",
    output:
        "results/baselines/{method}/{model}/comparison.tsv",
    log:
        "logs/baselines/{method}/{model}/baselines_compare.log",
    benchmark:
        "benchmarks/baselines/{method}/{model}/baselines_compare.tsv"
    wildcard_constraints:
        method="|".join(bl.METHODS),
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/baselines_compare.py"


rule baselines_beat_stl:
    input:
        "results/train/{model}/aggregate.tsv",
    output:
        "results/baselines/{model}/beat_stl.tsv",
    log:
        "logs/baselines/{model}/baselines_beat_stl.log",
    benchmark:
        "benchmarks/baselines/{model}/baselines_beat_stl.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/baselines_beat_stl.py"
