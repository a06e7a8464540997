"""Stage `build`: the task builds its model (tasks/*/build) and writes the input spec and labels."""
from __future__ import annotations


def build(ctx) -> dict:
    from .tasks import task_for

    return task_for(ctx.recipe).build(ctx)
