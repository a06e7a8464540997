"""The optimization techniques by name (`optimize[i].NAME` in a recipe), each one function
`(ctx, model, spec, where, index, history) -> (model, info)`: wrap a fresh copy, fine-tune through
the one fit, strip (or rebuild: prune_channels). A technique whose checkpoint does not load back
from .keras registers `rewrap(model, spec_dict, where, history)`: the model before it, wrapped
again the same way, that its saved weights load into (QAT).

    >>> model, info = TECHNIQUES.get("prune")(ctx, model, spec, "optimize[0].prune", 0, [])  # doctest: +SKIP
"""
from __future__ import annotations

from ..registry import Registry

TECHNIQUES = Registry("optimization")
