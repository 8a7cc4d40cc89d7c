# Input functions of stats.smk; the logic is in pvigroup.workflow and pvigroup.stats.


def stats_model_pvi_files(wildcards):
    """The PVI files of every task of the model (vinfo, sensitivity)."""
    tasks = wf.model_tasks(config, wildcards.model)
    return [f"results/pvi/{wildcards.model}/{t}.parquet" for t in tasks]


def vinfo_replicate_files(wildcards):
    """The seed replicates' PVI files (pvi.variability_seeds) of every task of the model."""
    tasks = wf.model_tasks(config, wildcards.model)
    return [
        f"results/pvi/{wildcards.model}/seed{s}/{t}.parquet"
        for s in config["pvi"]["variability_seeds"]
        for t in tasks
    ]


def vinfo_main_seeds(wildcards):
    """Each task's main PVI training seed (pvi.train.seed or the task's override)."""
    return {
        t: task_hparams(config, t, "pvi").get("seed", 42)
        for t in wf.model_tasks(config, wildcards.model)
    }
