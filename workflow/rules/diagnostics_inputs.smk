# Input functions of the diagnostics stage (diagnostics.smk); the logic is in pvigroup.diagnostics.
from pvigroup import diagnostics as dg


def diagnostics_flip_records(wildcards):
    """The noisy twin's flip record of each source file of the task (none for other tasks)."""
    return {
        f"flips_{role}": path
        for role, path in dg.flip_records(config["tasks"][wildcards.task]).items()
    }


def diagnostics_task_files(wildcards):
    return [
        dg.task_files(wildcards.model, t)["json"] for t in wf.model_tasks(config, wildcards.model)
    ]


def diagnostics_tasks(wildcards):
    return wf.model_tasks(config, wildcards.model)


def diagnostics_targets(wildcards):
    return dg.targets(config)
