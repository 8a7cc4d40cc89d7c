# Hub models and datasets, fetched once where snakemake runs (the login node), so that no job
# submitted to the cluster needs the network: those jobs run with HF_HUB_OFFLINE=1 and
# HF_DATASETS_OFFLINE=1 (common.smk) and read the Hugging Face cache (HF_HOME on a shared file
# system). Each fetch records the commit it got in resources/hub/ (docs/cluster.md).


localrules:
    fetch_hub_model,
    fetch_hub_dataset,
    fetch_hub_llm,


rule fetch_hub_model:
    output:
        "resources/hub/models/{model}.json",
    log:
        "logs/hub/models/{model}.log",
    conda:
        "../../envs/torch.yaml"
    params:
        repo=lambda w: config["models"][w.model]["pretrained"],
    script:
        "../scripts/fetch_hub.py"


rule fetch_hub_dataset:
    output:
        "resources/hub/datasets/{task}.json",
    log:
        "logs/hub/datasets/{task}.log",
    conda:
        "../../envs/torch.yaml"
    params:
        task=task_cfg,
    script:
        "../scripts/fetch_hub.py"


rule fetch_hub_llm:
    output:
        "resources/hub/llm/{llm}.json",
    log:
        "logs/hub/llm/{llm}.log",
    conda:
        "../../envs/llm.yaml"
    params:
        repo=lambda w: config["llm"]["models"][w.llm]["pretrained"],
        files=lambda w: [f for f in [config["llm"]["models"][w.llm].get("gguf_file")] if f],
    script:
        "../scripts/fetch_hub.py"
