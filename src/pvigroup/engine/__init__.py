"""The one training and read-out engine: a shared encoder with one head per task.

It trains g' (task model), g (null model: the same code on empty input), STL (one task) and MTL
(several tasks, hard parameter sharing) models and reads them out:

>>> from pvigroup.engine import TaskData, TrainParams, train, predict_logprobs  # doctest: +SKIP
>>> result = train("path/to/encoder", [TaskData("t", ["neg", "pos"], train_df, dev_df)],
...                TrainParams(epochs=3), "results/model")                       # doctest: +SKIP
>>> logp = predict_logprobs(result.out_dir, "t", test_df)                       # doctest: +SKIP
"""

from pvigroup.engine.heads import HEADS, ClassificationHead, PoolerHead
from pvigroup.engine.loop import PREEMPTED_STATUS, default_resume_dir, train
from pvigroup.engine.metrics import classification_metrics
from pvigroup.engine.model import MultiTaskModel, load_head, load_model
from pvigroup.engine.readout import evaluate, predict_logprobs
from pvigroup.engine.types import EngineOptions, StepView, TaskData, TrainParams, TrainResult

__all__ = [
    "HEADS",
    "PREEMPTED_STATUS",
    "ClassificationHead",
    "EngineOptions",
    "MultiTaskModel",
    "PoolerHead",
    "StepView",
    "TaskData",
    "TrainParams",
    "TrainResult",
    "classification_metrics",
    "default_resume_dir",
    "evaluate",
    "load_head",
    "load_model",
    "predict_logprobs",
    "train",
]
