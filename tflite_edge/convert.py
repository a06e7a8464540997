"""Stage `convert`: every format in `convert.formats`, written atomically to artifacts/.

The task exports its model (tasks/*/export.py); the format setups and the trace-once export they
share are in export.py.
"""
from __future__ import annotations


def convert(ctx) -> dict:
    from .tasks import task_for

    task = task_for(ctx.recipe)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    out = {"artifacts": task.export(ctx, model)}
    segments = task.export_segments(ctx, model)
    if segments:  # adaptive: the cascades, one TFLite model per segment (classification's adaptive/export.py)
        out["segments"] = segments
    return out
