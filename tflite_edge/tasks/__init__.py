"""Tasks: what the stages ask of classification or detection (the `Task` interface in base.py).

The stages (build, train, optimize, convert, evaluate, report) know nothing of a task's heads,
losses, data or metrics; they call `task_for(recipe)`. A task package is imported only when a
recipe asks for it, as stage modules are (run.py), so `validate` stays free of TensorFlow.

    >>> task_for(recipe).evaluate(ctx)       # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .base import FitData, Task

# task name (recipe.task) -> "module:class"; a new task registers here, implements Task, and
# keeps its recipe rules in PACKAGE/rules.py (`check(recipe)`, TensorFlow-free: the schema runs it).
TASKS = {
    "classification": "tflite_edge.tasks.classification.task:ClassificationTask",
    "detection": "tflite_edge.tasks.detection.task:DetectionTask",
}
TASK_NAMES = tuple(TASKS)
_INSTANCES: dict = {}


def task_module(name: str, part: str):
    """A TensorFlow-free module of the task's package: `rules` (its recipe checks, `check(recipe)`),
    `predict` (`tflite-edge predict` on its artifacts), `metadata` (its TFLite Metadata layout)."""
    package = TASKS[name].split(":")[0].split(".")[:3]  # tflite_edge.tasks.NAME
    return importlib.import_module(".".join(package + [part]))


def rules_for(name: str):
    """The task's recipe rules (tasks/NAME/rules.py: `check(recipe)`)."""
    return task_module(name, "rules")


def task_for(recipe_or_name) -> Task:
    """The Task for a recipe (its `task` field) or a task name; one instance per process."""
    name = recipe_or_name if isinstance(recipe_or_name, str) else recipe_or_name.task
    if name not in _INSTANCES:
        module, cls = TASKS[name].split(":")
        _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[name]


__all__ = ["FitData", "TASKS", "TASK_NAMES", "Task", "rules_for", "task_for", "task_module"]
