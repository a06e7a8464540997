"""Stage `convert`: every format in `convert.formats`, written atomically to artifacts/.

The task exports its model (tasks/*/export.py); the format setups and the trace-once export they
share are in export.py.
"""
from __future__ import annotations


def convert(ctx) -> dict:
    from .tasks import task_for

    model = ctx.load_model(ctx.outputs("optimize")["model"])
    return {"artifacts": task_for(ctx.recipe).export(ctx, model)}
