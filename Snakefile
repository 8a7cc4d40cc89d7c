# pvigroup: which NLP tasks to train together, by how hard each task is for a model (PVI).
#
# Path scheme (docs/architecture.md):
#   resources/demo/{corpus}.csv                          demo corpora, fetched at run time
#   results/data/{task}/{train,dev,test}.parquet         prepared splits (+ task.json, label_counts.tsv)
#   results/pvi/{model}/{task}.parquet                   one PVI row per held-out instance
#   results/stats/{model}/pairs.tsv, triples.tsv         every pair / group test of a model
#   results/groups/{model}/{similar,dissimilar,manual}.tsv
#   results/train/{model}/{stl,mtl}/{group}/seed{seed}/  STL and MTL runs
#   results/llm/{llm}/{task}/, results/baselines/{method}/{model}/, results/tables/
#   results/evaluation/{model}/gain.tsv, methods.tsv, predictor.tsv   did the grouping help?
#   results/diagnostics/{model}/{task}.suspects.tsv        lowest-PVI instances (suspect labels)
from snakemake.utils import min_version

min_version("9.0")


# The demo config applies only when no --configfile is given (a user's config replaces it
# instead of being merged into it).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/hub.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pvi.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/groups.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/llm.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/calibrate.smk"


localrules:
    all,
    pvi,
    stats,
    groups,
    select_groups,
    manual_groups,


rule all:
    default_target: True
    input:
        all_targets,


rule pvi:
    input:
        wf.pvi_targets(config),


rule stats:
    input:
        wf.stats_targets(config),


rule groups:
    input:
        wf.group_targets(config),


onsuccess:
    # where the outputs are (only files this working directory has; nothing for a dry run)
    for line in wf.outputs_summary(config):
        print(line)
