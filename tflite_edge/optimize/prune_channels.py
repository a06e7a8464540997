"""`prune_channels`: a rebuild, not a tfmot wrapper (whole filters removed, a new smaller model);
channel_prune/ does it, imported only when a recipe asks for it."""
from __future__ import annotations

from .registry import TECHNIQUES


@TECHNIQUES.register("prune_channels")
def prune_channels(ctx, model, spec, where, index, history):
    from ..channel_prune import optimize_step

    return optimize_step(ctx, model, spec, where, index, history)
