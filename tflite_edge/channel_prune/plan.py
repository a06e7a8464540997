"""Which channels to keep: scoring, per-group ratios, MACs counting and the MACs-target search."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..errors import UserInputError
from .graph import PRODUCERS, ChannelGraph, functional, last_dim


def _layer_macs(layer, cls: str, in_ch: int, out_ch: int) -> int:
    if cls not in ("Conv2D", "DepthwiseConv2D", "Dense"):
        return 0
    out_shape = layer.output_shape
    positions = int(np.prod([d for d in out_shape[1:-1]])) if len(out_shape) > 2 else 1
    if cls == "Dense":
        return positions * in_ch * out_ch
    kh, kw = layer.kernel_size
    if cls == "DepthwiseConv2D":
        return positions * kh * kw * out_ch
    return positions * kh * kw * in_ch * out_ch


def count_macs(model) -> int:
    """Multiply-accumulates of one inference (Conv2D, DepthwiseConv2D, Dense; batch 1)."""
    model = functional(model)
    total = 0
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in ("Conv2D", "DepthwiseConv2D", "Dense"):
            total += _layer_macs(layer, cls, last_dim(layer.input_shape), last_dim(layer.output_shape))
    return int(total)


def _normalised(v: np.ndarray) -> np.ndarray:
    m = float(np.mean(v))
    return v / m if m > 0 else v


def _scores(model, g: ChannelGraph, root: int, group: dict, criterion: str):
    """(per-channel importance, criterion actually used) for one group."""
    model = functional(model)
    if criterion == "bn_scale":
        total, found = 0.0, False
        for name in g.order:
            if g.cls[name] == "BatchNormalization" and g.desc[name] and \
                    all(g.root(s) == root for s in g.desc[name]):
                layer = model.get_layer(name)
                if layer.scale:
                    total = total + _normalised(np.abs(layer.gamma.numpy()))
                    found = True
        if found:
            return np.asarray(total, np.float64), "bn_scale"
    total = 0.0
    for name in group["producers"]:
        k = model.get_layer(name).kernel.numpy()
        total = total + _normalised(np.abs(k).reshape(-1, k.shape[-1]).sum(axis=0))
    # bn_scale falls back (and says so in the report) where a group has no BatchNorm, e.g. SE reduce
    return np.asarray(total, np.float64), "l1" if criterion == "l1" else "l1 (group has no BatchNorm)"


def _keep_count(channels: int, ratio: float, round_to: int, layer: str) -> int:
    if ratio <= 0:
        return channels
    exact = channels * (1.0 - ratio)
    if exact < 1.0:
        raise UserInputError(f"prune_channels: ratio {ratio} would remove every channel of layer '{layer}' "
                             f"({channels} channels); use a ratio below {1 - 1 / channels:.3f}")
    keep = int(exact / round_to + 0.5) * round_to  # half up: round() would send 2.5 down, 5.5 up
    return int(min(channels, max(keep, min(round_to, channels))))


def group_ratios(g: ChannelGraph, ratio: Optional[float] = None, ratios: Optional[Dict[str, float]] = None,
                 where: str = "prune_channels", clamp: bool = False) -> Dict[int, float]:
    """root -> ratio, from a global ratio or {layer regex: ratio} (first matching pattern wins).

    `clamp` (for ratios a target search chose, not the user) keeps at least one channel per group."""
    prunable = g.prunable()
    if ratios is None:
        r = float(ratio or 0.0)
        return {root: min(r, 1.0 - 1.0 / grp["size"]) if clamp else r for root, grp in prunable.items()}
    out: Dict[int, float] = {}
    all_groups = g.groups()
    producer_root = {layer: g.root(s) for s, layer in g.producer_of.items()}
    for pattern, value in ratios.items():
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise UserInputError(f"{where}.ratios: '{pattern}' is not a valid regular expression ({e})") from None
        hits = [layer for layer in producer_root if rx.search(layer)]
        if not hits:
            names = [n for n in g.order if g.cls[n] in PRODUCERS]
            raise UserInputError(f"{where}.ratios: '{pattern}' matches no Conv2D/Dense layer; layers are e.g. "
                                 f"{names[:6]}")
        for layer in hits:
            root = producer_root[layer]
            why = all_groups[root]["frozen"]
            if why is not None:
                raise UserInputError(f"{where}.ratios: layer '{layer}' cannot be pruned (its channels are the "
                                     f"{why}); narrow the pattern '{pattern}'")
            out.setdefault(root, float(value))
    return out


@dataclass
class Plan:
    keep: Dict[int, np.ndarray]  # group root -> sorted kept channel indices (pruned groups only)
    groups: List[dict]  # report rows


def plan_channels(model, g: ChannelGraph, ratios_by_group: Dict[int, float], criterion: str = "l1",
                  round_to: int = 8) -> Plan:
    """Choose the kept channels of each group; refuses a ratio that would remove a whole layer."""
    prunable = g.prunable()
    keep, rows = {}, []
    for root, ratio in ratios_by_group.items():
        group = prunable[root]
        name, size = group["producers"][0], group["size"]
        k = _keep_count(size, ratio, round_to, name)
        if k >= size:
            continue
        score, used = _scores(model, g, root, group, criterion)
        idx = np.sort(np.argsort(-score, kind="stable")[:k])
        keep[root] = idx
        rows.append({"group": name, "producers": group["producers"], "channels_before": size,
                     "channels_after": int(k), "ratio": ratio, "criterion": used})
    return Plan(keep, rows)


def channel_mask(g: ChannelGraph, plan: Plan, desc: List[int]) -> np.ndarray:
    parts = []
    for s in desc:
        m = np.zeros(g.size[s], bool)
        idx = plan.keep.get(g.root(s))
        m[idx if idx is not None else slice(None)] = True
        parts.append(m)
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def planned_macs(model, g: ChannelGraph, plan: Plan) -> int:
    """MACs of the model `apply_plan` would build, without building it (for target searches)."""
    model = functional(model)
    total = 0
    for name in g.order:
        cls = g.cls[name]
        if cls not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        layer = model.get_layer(name)
        in_ch = int(channel_mask(g, plan, g.desc[g.inbound[name][0]]).sum())
        out_ch = int(channel_mask(g, plan, g.desc[name]).sum())
        total += _layer_macs(layer, cls, in_ch, out_ch)
    return int(total)


MAX_SEARCH_RATIO = 0.9


def bisect_ratio(meets, hi: float, steps: int) -> float:
    """Smallest ratio in (0, hi] for which `meets(ratio)` holds, to within hi / 2**steps
    (`meets` must hold at hi and be monotone: more pruning never un-meets a target)."""
    lo = 0.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
    return hi


def ratio_for_macs(model, g: ChannelGraph, target: float, criterion: str = "l1", round_to: int = 8,
                   where: str = "prune_channels") -> float:
    """Smallest global ratio whose pruned model has at most `target` x the MACs (bisection)."""
    base = count_macs(model)

    def macs_ratio(r):
        plan = plan_channels(model, g, group_ratios(g, r, clamp=True), criterion, round_to)
        return planned_macs(model, g, plan) / base

    top = macs_ratio(MAX_SEARCH_RATIO)
    if top > target:
        raise UserInputError(f"{where}.target_macs_ratio: {target} is out of reach (ratio {MAX_SEARCH_RATIO} on "
                             f"every layer leaves {top:.3f} of the MACs; the frozen layers keep theirs); raise it")
    return round(bisect_ratio(lambda r: macs_ratio(r) <= target, MAX_SEARCH_RATIO, 14), 4)
