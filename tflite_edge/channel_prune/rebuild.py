"""Build the smaller model from a plan (or mask the original, for the tests' equivalence check)."""
from __future__ import annotations

from typing import Dict, Optional

from .. import compat
from .graph import PRODUCERS, ChannelGraph, analyse, functional, unsupported_layer
from .plan import Plan, channel_mask, count_macs, group_ratios, plan_channels


def apply_plan(model, g: ChannelGraph, plan: Plan):
    """A new, smaller tf_keras model with the kept channels' weights (BatchNorm statistics included)."""
    keras = compat.keras()
    model = functional(model)
    config = _copy_config(g.config)
    for e in config["layers"]:
        name = e["name"]
        if g.cls[name] in PRODUCERS:
            n = int(channel_mask(g, plan, g.desc[name]).sum())
            e["config"]["filters" if g.cls[name] == "Conv2D" else "units"] = n
    new = keras.Model.from_config(config)
    for name in g.order:
        old_layer = model.get_layer(name)
        weights = old_layer.get_weights()
        if not weights:
            continue
        cls = g.cls[name]
        out_m = channel_mask(g, plan, g.desc[name])
        in_m = channel_mask(g, plan, g.desc[g.inbound[name][0]]) if g.inbound[name] else None
        if cls in PRODUCERS:
            kernel = weights[0][..., in_m, :][..., out_m]
            sliced = [kernel] + [w[out_m] for w in weights[1:]]
        elif cls == "DepthwiseConv2D":
            sliced = [weights[0][:, :, in_m, :]] + [w[out_m] for w in weights[1:]]
        elif cls == "BatchNormalization":
            sliced = [w[out_m] for w in weights]
        else:
            raise unsupported_layer(name, f"{cls} with weights")
        new.get_layer(name).set_weights(sliced)
    return new


def _copy_config(config: dict) -> dict:
    import copy

    return copy.deepcopy(config)


def mask_model(model, g: ChannelGraph, plan: Plan):
    """A copy of `model` where the pruned channels are cut off: every consumer's input rows for them
    are zero. Its outputs equal `apply_plan`'s (the rebuild is exact), which is what tests check."""
    keras = compat.keras()
    model = functional(model)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in g.order:
        if g.cls[name] not in PRODUCERS:
            continue
        in_m = channel_mask(g, plan, g.desc[g.inbound[name][0]])
        if in_m.all():
            continue
        layer = copy.get_layer(name)
        w = layer.get_weights()
        w[0][..., ~in_m, :] = 0.0
        layer.set_weights(w)
    return copy


def prune_channels(model, ratio: Optional[float] = None, ratios: Optional[Dict[str, float]] = None,
                   criterion: str = "l1", round_to: int = 8, where: str = "prune_channels"):
    """(smaller model, report) for a global ratio or per-layer {regex: ratio}; no fine-tuning."""
    g = analyse(model)
    plan = plan_channels(model, g, group_ratios(g, ratio, ratios, where), criterion, round_to)
    pruned = apply_plan(model, g, plan)
    return pruned, size_report(model, pruned, plan)


def size_report(before, after, plan: Plan) -> dict:
    return {"macs_before": count_macs(before), "macs_after": count_macs(after),
            "params_before": int(before.count_params()), "params_after": int(after.count_params()),
            "groups_pruned": len(plan.groups), "groups": plan.groups}
