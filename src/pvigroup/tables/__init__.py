"""The paper's tables (csv, markdown, LaTeX) from the workflow's result files, and the comparison
with the published numbers.

Table numbers follow the paper (Li, Miller, Bethard and Savova, arXiv:2410.12774):

====  =====================================================  ==========================================
 No.  content                                                input (docs/architecture.md)
====  =====================================================  ==========================================
 1    pairs with p > alpha (t, p)                            ``results/stats/{model}/pairs.tsv``
 2    groups of 3+ tasks with p > alpha (F, p)               ``results/stats/{model}/triples.tsv``
 3-4  STL vs MTL, PVI-similar groups (general+bio, clin.)    ``results/train/{model}/aggregate.tsv``
 5-6  STL vs MTL, PVI-dissimilar groups                      ``results/train/{model}/aggregate.tsv``
 7-8  LLM few-shot (general+bio, clinical)                   ``results/llm/table07.tsv``, ``table08.tsv``
 9    dataset sizes                                          ``results/data/{task}/task.json``
 10   label distributions                                    ``results/data/{task}/label_counts.tsv``
11-14 TaskEmb / surrogate groupings vs ours                  ``results/baselines/{method}/{model}/comparison.tsv``
15-16 Tables 3-4 with the second encoder of each domain      ``results/train/{model}/aggregate.tsv``
 17   grouping methods side by side (gain, share, cost)      ``results/evaluation/{model}/methods.tsv``
====  =====================================================  ==========================================

Table 17 is not the paper's: it answers, per model, whether each grouping's MTL groups gained
over STL (:mod:`pvigroup.evaluation`).

The *main* model of a domain family (general + biomedical, or clinical) is the first model in
``tables.models`` (default: config order) whose tasks include a task of that family; the second
such model feeds Tables 15-16. Which tables are written is decided from the config alone
(:func:`plan_tables`), so Snakemake knows every input up front; a table whose stage is not
configured is skipped with a reason.

Modules: ``registry`` (:data:`SPECS`, every table's number and kind), one module per kind of
table (``group_tests`` 1-2, ``stl_mtl`` 3-6 and 15-16, ``llm`` 7-8, ``data`` 9-10, ``baseline``
11-14, ``methods`` 17; each plans, reads, builds and captions its tables), ``plan`` (the DAG's
inputs and outputs), ``build`` (one table from its files), ``render`` (md, tex, csv, index),
``comparison`` (the paper comparison), ``paper`` (the published tables), ``config``,
``formatting``, ``inputs`` (column checks, reads), ``record`` (provenance) and ``spec`` (the shared data classes).
"""

from pvigroup.tables.baseline import BASELINE_COLUMNS, BASELINE_TEXT, baseline_frame
from pvigroup.tables.build import build_table, make_table, read_table_inputs
from pvigroup.tables.comparison import (
    compare_datasets,
    compare_group_tests,
    compare_llm,
    compare_stl_mtl,
    paper_comparison,
)
from pvigroup.tables.config import (
    baseline_methods,
    display_names,
    family_models,
    listed_groups,
    main_models,
    model_order,
    stage_configured,
    task_family,
)
from pvigroup.tables.data import datasets_frame, label_counts_frame
from pvigroup.tables.formatting import fmt_ci, fmt_diff_ci, fmt_num, fmt_p, fmt_share, group_label
from pvigroup.tables.group_tests import (
    GROUP_EFFECT_COLUMNS,
    PAIR_EFFECT_COLUMNS,
    accepted_tests,
    group_tests_frame,
)
from pvigroup.tables.llm import llm_frame
from pvigroup.tables.methods import METHODS_COLUMNS, methods_frame
from pvigroup.tables.paper import paper_frame, paper_tables, paper_task_names
from pvigroup.tables.plan import (
    compare_with_paper,
    comparison_inputs,
    comparison_settings,
    plan_summary,
    plan_tables,
    report_plots,
    table_inputs,
    table_outputs,
)
from pvigroup.tables.record import config_hash, footer_text, provenance
from pvigroup.tables.registry import KINDS, SPECS
from pvigroup.tables.render import (
    render_latex,
    render_markdown,
    tex_escape,
    write_index,
    write_table,
)
from pvigroup.tables.spec import (
    BASELINE_METHODS,
    FAMILIES,
    FAMILY_OF_DOMAIN,
    FAMILY_TEXT,
    Table,
    TableKind,
    TablePlan,
    TableSpec,
)
from pvigroup.tables.stl_mtl import STL_MTL_COLUMNS, stl_mtl_frame
from pvigroup.workflow import SEP, model_tasks

__all__ = [
    "BASELINE_COLUMNS", "BASELINE_METHODS", "BASELINE_TEXT", "FAMILIES", "FAMILY_OF_DOMAIN",
    "FAMILY_TEXT", "GROUP_EFFECT_COLUMNS", "KINDS", "METHODS_COLUMNS", "PAIR_EFFECT_COLUMNS",
    "SEP", "SPECS", "STL_MTL_COLUMNS", "Table", "TableKind", "TablePlan", "TableSpec",
    "accepted_tests", "baseline_frame", "baseline_methods", "build_table", "compare_datasets",
    "compare_group_tests", "compare_llm", "compare_stl_mtl", "compare_with_paper",
    "comparison_inputs", "comparison_settings", "config_hash", "datasets_frame", "display_names",
    "family_models", "fmt_ci", "fmt_diff_ci", "fmt_num", "fmt_p", "fmt_share", "footer_text",
    "group_label", "group_tests_frame", "label_counts_frame", "listed_groups", "llm_frame",
    "main_models", "make_table", "methods_frame", "model_order", "model_tasks",
    "paper_comparison", "paper_frame", "paper_tables", "paper_task_names", "plan_summary",
    "plan_tables", "provenance", "read_table_inputs", "render_latex", "render_markdown",
    "report_plots", "stage_configured", "stl_mtl_frame", "table_inputs", "table_outputs",
    "task_family", "tex_escape", "write_index", "write_table",
]
