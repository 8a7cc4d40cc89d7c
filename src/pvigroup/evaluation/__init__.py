"""Did the grouping help? The MTL gain of every trained group (MTL − STL per task, paired by
seed, with t-intervals), the grouping methods side by side with what each cost, and whether the
PVI test predicts the gain (rank correlations with permutation p-values, AUROC of the decision).

Definitions: docs/statistics.md, "Did the grouping help?". Only light modules are imported here
(the figures load matplotlib when imported).
"""

from pvigroup.evaluation.answer import answer_html, answer_sentence
from pvigroup.evaluation.cost import (
    Cost,
    benchmark_seconds,
    estimated_gpu_hours,
    grouping_benchmarks,
    grouping_costs,
    measure_cost,
)
from pvigroup.evaluation.files import evaluate_model, write_answer
from pvigroup.evaluation.gain import GROUP_COLUMNS, TASK_COLUMNS, GainResult, group_gains
from pvigroup.evaluation.methods import METHOD_COLUMNS, MethodsResult, compare_methods
from pvigroup.evaluation.predictor import (
    MIN_PAIRS,
    N_PERMUTATIONS,
    PREDICTOR_COLUMNS,
    CorrelationResult,
    PredictorResult,
    auroc,
    permutation_statistic,
    pvi_predictor,
    trained_pairs,
)

__all__ = ["GROUP_COLUMNS", "METHOD_COLUMNS", "MIN_PAIRS", "N_PERMUTATIONS",
           "PREDICTOR_COLUMNS", "TASK_COLUMNS", "CorrelationResult", "Cost", "GainResult",
           "MethodsResult", "PredictorResult", "answer_html", "answer_sentence", "auroc",
           "benchmark_seconds", "compare_methods", "estimated_gpu_hours", "evaluate_model",
           "group_gains", "grouping_benchmarks", "grouping_costs", "measure_cost",
           "permutation_statistic", "pvi_predictor", "trained_pairs", "write_answer"]
