"""Stage `optimize`: the recipe's techniques in the order written (prune, cluster, qat).

Each technique wraps a fresh copy of the model, fine-tunes it, and strips the wrappers.
"""
from __future__ import annotations

from .errors import UserInputError
from .recipe import _step_tag


def optimize(ctx) -> dict:
    model_rel = ctx.outputs("train")["model"]
    if not ctx.recipe.optimize:
        return {"model": model_rel, "steps": []}
    names = [_step_tag(s) for s in ctx.recipe.optimize]
    raise UserInputError(f"optimize: {names} are not available in this version of tflite-edge; "
                         "remove the optimize section")
