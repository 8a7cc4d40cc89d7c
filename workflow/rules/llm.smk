# LLM few-shot baselines (the paper's Tables 7-8; docs/llm.md): each configured LLM prompts each
# task's test split with one gold shot per class, then the per-task metrics are collected into
# results/llm/table07.tsv (general + biomedical) and table08.tsv (clinical).
# Private tasks never reach a non-local backend: refused here, at parse time, and again in the job.
from pvigroup import llm as llm_mod

try:
    llm_mod.check_privacy(config["tasks"], config["llm"]["models"])
except PvigroupError as err:
    sys.exit(f"pvigroup error: {err}")

LLMS = sorted(config["llm"]["models"])
# prompt settings shared by all LLMs (the models' own entries are separate params)
LLM_OPTIONS = {k: v for k, v in config["llm"].items() if k != "models"}
# per task only what a job needs (domain, private); per LLM the GPUs a job asks for
LLM_TASK_FLAGS = llm_mod.task_flags(config["tasks"])
LLM_GPUS = {name: llm_mod.needs_gpu(spec) for name, spec in config["llm"]["models"].items()}
# cores per prompt job: 2 beside a GPU, else engine.threads (default 1, so CPU jobs run side by side)
LLM_THREADS = {
    name: 2 if gpus else (config["engine"]["threads"] or 1) for name, gpus in LLM_GPUS.items()
}


envvars:
    *llm_mod.api_key_envvars(config),


wildcard_constraints:
    llm=wf.one_of(LLMS),


# API backends are prompted where snakemake runs (prompt_llm_api, a local rule): cluster nodes
# usually have no internet. Local backends run as cluster jobs, reading a hub model from the
# cache that fetch_hub_llm filled on the login node.
LLMS_API = [n for n, m in config["llm"]["models"].items() if m.get("backend", "local") != "local"]
LLMS_LOCAL = [n for n in LLMS if n not in LLMS_API]


localrules:
    llm,
    collect_llm,
    prompt_llm_api,


EXTRA_TARGETS.append(llm_mod.targets_function(config))


rule llm:
    input:
        llm_mod.llm_targets(config),


rule prompt_llm:
    input:
        train="results/data/{task}/train.parquet",
        test="results/data/{task}/test.parquet",
        info="results/data/{task}/task.json",
        hub=llm_hub_input,
    output:
        predictions="results/llm/{llm}/{task}/predictions.parquet",
        metrics="results/llm/{llm}/{task}/metrics.json",
    log:
        "logs/llm/{llm}/{task}/prompt_llm.log",
    benchmark:
        "benchmarks/llm/{llm}/{task}/prompt_llm.tsv"
    wildcard_constraints:
        llm=wf.one_of(LLMS_LOCAL),
    conda:
        "../../envs/llm.yaml"
    threads: lookup(dpath="{llm}", within=LLM_THREADS)
    resources:
        gpu=lookup(dpath="{llm}", within=LLM_GPUS),
        runtime=120,
        mem_mb=16000,
    params:
        llm=lookup(dpath="llm/models/{llm}", within=config),
        options=LLM_OPTIONS,
        task=lookup(dpath="{task}", within=LLM_TASK_FLAGS),
    script:
        "../scripts/prompt_llm.py"


use rule prompt_llm as prompt_llm_api with:
    wildcard_constraints:
        llm=wf.one_of(LLMS_API),


rule collect_llm:
    input:
        metrics=llm_mod.llm_metric_paths(config),
    output:
        table07="results/llm/table07.tsv",
        table08="results/llm/table08.tsv",
    log:
        "logs/llm/collect_llm.log",
    benchmark:
        "benchmarks/llm/collect_llm.tsv"
    conda:
        "../../envs/llm.yaml"
    script:
        "../scripts/collect_llm.py"
