# Input functions of stats.smk; the logic is in pvigroup.workflow and pvigroup.stats.


def stats_model_pvi_files(wildcards):
    """The PVI files of every task of the model (vinfo, sensitivity)."""
    tasks = wf.model_tasks(config, wildcards.model)
    return [f"results/pvi/{wildcards.model}/{t}.parquet" for t in tasks]
