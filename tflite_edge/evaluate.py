"""Stage `evaluate`: the task scores the Keras model and every artifact on the whole test split and
checks the recipe's quality gates (gates.py)."""
from __future__ import annotations


def evaluate(ctx) -> dict:
    from .tasks import task_for

    return task_for(ctx.recipe).evaluate(ctx)
