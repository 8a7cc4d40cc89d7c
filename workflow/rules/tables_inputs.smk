# Module-level settings and input/param functions of tables.smk.
from pvigroup import tables as tb

TABLE_PLANS = {p.nn: p for p in tb.plan_tables(config)}
TABLE_INPUTS = tb.table_inputs(config)
TABLE_PROVENANCE = tb.provenance(config)
TABLE_NAMES = tb.display_names(config)
TABLE_MODELS = sorted(config["models"])


localrules:
    tables,
    plots,
    make_table,
    make_table_index,
    make_table_comparison,
    plot_pvi_violin,
    plot_pair_pvalues,
    plot_pvi_forest,
    plot_sensitivity,
    plot_vinfo,
    plot_groups,
    plot_stl_mtl,
    plot_label_distributions,


def table_files(wildcards):
    return TABLE_INPUTS[wildcards.nn]


def table_settings(wildcards):
    return TABLE_PLANS[wildcards.nn].settings


def tables_targets(wildcards):
    return tb.table_outputs(config) + tb.report_plots(config)


def comparison_files(wildcards):
    return tb.comparison_inputs(config)


def tasks_for_plot(wildcards):
    return wf.model_tasks(config, wildcards.model)


def model_pvi_files(wildcards):
    return [f"results/pvi/{wildcards.model}/{t}.parquet" for t in tasks_for_plot(wildcards)]


EXTRA_TARGETS.append(tables_targets)
