"""Tasks: what the stages ask of classification or detection (the `Task` interface in base.py).

The stages (build, train, optimize, convert, evaluate, report) know nothing of a task's heads,
losses, data or metrics; they call `task_for(recipe)`. A task package is imported only when a
recipe asks for it, as stage modules are (run.py), so `validate` stays free of TensorFlow.

    >>> task_for(recipe).evaluate(ctx)       # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .base import FitData, Task

# task name (recipe.task) -> "module:class"; a new task registers here and implements Task.
TASKS = {
    "classification": "tflite_edge.tasks.classification:ClassificationTask",
    "detection": "tflite_edge.tasks.detection:DetectionTask",
}
_INSTANCES: dict = {}


def task_for(recipe_or_name) -> Task:
    """The Task for a recipe (its `task` field) or a task name; one instance per process."""
    name = recipe_or_name if isinstance(recipe_or_name, str) else recipe_or_name.task
    if name not in _INSTANCES:
        module, cls = TASKS[name].split(":")
        _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[name]


__all__ = ["FitData", "TASKS", "Task", "task_for"]
