"""Structured (channel) pruning: remove whole filters, rebuild a smaller tf_keras model.

Unstructured sparsity (tfmot `prune`) shrinks gzip size but not dense CPU latency; removing
filters shrinks every tensor, so int8 kernels do less work. The flow:

1. `analyse(model)` walks the functional graph (from its config, the same data `from_config`
   rebuilds from) and puts every tensor's channel axis into *channel spaces*. Spaces that must
   keep the same channels are merged into one *group*: an Add/Multiply ties its inputs, a
   depthwise conv, BatchNorm or activation keeps its input's space, a Concatenate's output is
   the concatenation of its inputs' spaces. The model inputs and outputs, and anything fed into
   a Reshape/Flatten, are frozen. A layer type it cannot follow is refused, naming the layer.
2. `plan_channels` scores each group's channels (L1 of the producing filters, or |gamma| of its
   BatchNorms: network slimming) and keeps the best, a multiple of `round_to` (XNNPACK packs
   channels in blocks of 8, so other counts buy less speed).
3. `apply_plan` edits the filter counts in the config, rebuilds, and copies the kept slices of
   every weight (kernels on both axes, biases, depthwise kernels, BatchNorm statistics).
   `mask_model` zeroes the same channels in the original instead (the consumers' input rows),
   which must give the same outputs: the tests check exactly that.

>>> pruned, report = prune_channels(model, ratio=0.25)          # doctest: +SKIP
>>> report["macs_after"] < report["macs_before"]                # doctest: +SKIP
True
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from . import compat
from .bench import WARMUP_MIN_S
from .errors import UserInputError

PRODUCERS = ("Conv2D", "Dense")
# Keep the channel axis and its meaning: the output lies in the input's space.
PASSTHROUGH = ("ReLU", "Activation", "Rescaling", "Dropout", "SpatialDropout2D", "GaussianNoise",
               "GaussianDropout", "Softmax", "ZeroPadding2D", "Cropping2D", "MaxPooling2D",
               "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "UpSampling2D",
               "LeakyReLU", "ELU", "ActivityRegularization")
MERGES = ("Add", "Multiply", "Subtract", "Maximum", "Minimum", "Average")
# Their output reinterprets the channel axis: the input keeps every channel.
FREEZERS = ("Reshape", "Flatten", "Permute")
SUPPORTED = ("InputLayer", *PRODUCERS, "DepthwiseConv2D", "BatchNormalization", *PASSTHROUGH, *MERGES,
             "Concatenate", *FREEZERS)


# ---------------------------------------------------------------- graph analysis
@dataclass
class ChannelGraph:
    """Channel spaces of a functional model; `desc[layer]` lists the spaces along its output channels."""

    config: dict
    order: List[str]
    cls: Dict[str, str]
    inbound: Dict[str, List[str]]
    desc: Dict[str, List[int]] = field(default_factory=dict)
    size: List[int] = field(default_factory=list)
    parent: List[int] = field(default_factory=list)
    frozen: Dict[int, str] = field(default_factory=dict)  # space -> why it cannot be pruned
    producer_of: Dict[int, str] = field(default_factory=dict)  # space -> the layer that makes it

    def new_space(self, size: int, producer: Optional[str] = None, frozen: Optional[str] = None) -> int:
        self.size.append(int(size))
        self.parent.append(len(self.parent))
        s = len(self.size) - 1
        if producer:
            self.producer_of[s] = producer
        if frozen:
            self.frozen[s] = frozen
        return s

    def root(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def freeze(self, spaces, why: str) -> None:
        for s in spaces:
            self.frozen.setdefault(s, why)

    def channels(self, layer: str) -> int:
        return sum(self.size[s] for s in self.desc[layer])

    def groups(self) -> Dict[int, dict]:
        """root -> {producers (in graph order), size, frozen reason or None}."""
        out: Dict[int, dict] = {}
        for s in range(len(self.size)):
            g = out.setdefault(self.root(s), {"producers": [], "size": self.size[self.root(s)], "frozen": None})
            if s in self.frozen and g["frozen"] is None:
                g["frozen"] = self.frozen[s]
        for s, layer in self.producer_of.items():
            out[self.root(s)]["producers"].append(layer)
        pos = {n: i for i, n in enumerate(self.order)}
        for g in out.values():
            g["producers"].sort(key=pos.get)
        return out

    def prunable(self) -> Dict[int, dict]:
        return {r: g for r, g in self.groups().items() if g["frozen"] is None and g["producers"]}


def _functional(model):
    keras = compat.keras()
    if isinstance(model, keras.Sequential):
        # Sequential has no inbound_nodes in its config; a functional view of the same layers does.
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    return model


def _unsupported(name: str, what: str) -> UserInputError:
    return UserInputError(f"prune_channels: layer '{name}' ({what}) cannot be followed by the channel pruner; "
                          f"supported layers: {', '.join(SUPPORTED)}. Remove prune_channels from optimize, "
                          "or build the model from supported layers")


def _check_layer(layer, cls: str) -> None:
    cfg = layer.get_config()
    if cls == "Conv2D" and (cfg.get("groups", 1) != 1 or cfg.get("data_format") == "channels_first"):
        raise _unsupported(layer.name, "Conv2D with groups > 1 or channels_first")
    if cls == "DepthwiseConv2D" and cfg.get("data_format") == "channels_first":
        raise _unsupported(layer.name, "DepthwiseConv2D channels_first")
    if cls == "BatchNormalization":
        axis = cfg.get("axis")
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, len(layer.input_shape) - 1):
            raise _unsupported(layer.name, f"BatchNormalization over axis {axis}, not the channels")
    if cls == "Rescaling" and (np.ndim(cfg.get("scale")) or np.ndim(cfg.get("offset"))):
        raise _unsupported(layer.name, "Rescaling with a per-channel scale")
    if cls in ("Softmax",) and cfg.get("axis") not in (-1, len(layer.output_shape) - 1, [-1]):
        raise _unsupported(layer.name, "Softmax over an axis other than the channels")


def analyse(model) -> ChannelGraph:
    """Channel spaces and groups of `model`; UserInputError naming the first layer it cannot follow."""
    model = _functional(model)
    config = model.get_config()
    entries = {e["name"]: e for e in config["layers"]}
    inbound: Dict[str, List[str]] = {}
    for e in config["layers"]:
        nodes = e.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise _unsupported(e["name"], f"{e['class_name']} called {len(nodes)} times (a shared layer)")
        if e["class_name"] not in SUPPORTED:
            raise _unsupported(e["name"], e["class_name"])
        inbound[e["name"]] = [src[0] for src in (nodes[0] if nodes else [])]
    order, seen = [], set()
    while len(order) < len(entries):  # topological order (get_config is already ordered; be sure)
        progressed = False
        for name in entries:
            if name not in seen and all(s in seen for s in inbound[name]):
                order.append(name)
                seen.add(name)
                progressed = True
        if not progressed:
            raise UserInputError("prune_channels: the model graph has a cycle or a missing layer; "
                                 "rebuild it as a plain functional model")
    g = ChannelGraph(config, order, {n: entries[n]["class_name"] for n in entries}, inbound)
    for name in order:
        cls, layer = g.cls[name], model.get_layer(name)
        if isinstance(layer.output_shape, list) and cls != "InputLayer":
            raise _unsupported(name, f"{cls} with several outputs")
        _check_layer(layer, cls)
        ins = [g.desc[s] for s in inbound[name]]
        out_ch = _last_dim(layer.output_shape)
        if cls == "InputLayer":
            g.desc[name] = [g.new_space(out_ch, frozen=f"model input '{name}'")]
        elif cls in PRODUCERS:
            g.desc[name] = [g.new_space(out_ch, producer=name)]
        elif cls == "DepthwiseConv2D" and layer.get_config().get("depth_multiplier", 1) != 1:
            # each input channel makes several outputs: keep it whole rather than track the fan-out
            g.freeze(ins[0], f"input of depth_multiplier > 1 layer '{name}'")
            g.desc[name] = [g.new_space(out_ch, producer=None, frozen=f"output of '{name}' (depth_multiplier > 1)")]
        elif cls in ("DepthwiseConv2D", "BatchNormalization") or cls in PASSTHROUGH:
            g.desc[name] = list(ins[0])
        elif cls in MERGES:
            g.desc[name] = _merge(g, name, ins, out_ch)
        elif cls == "Concatenate":
            axis = layer.get_config().get("axis", -1)
            if axis in (-1, len(layer.output_shape) - 1):
                g.desc[name] = [s for d in ins for s in d]
            else:  # stacking along another axis: channel i of every input is channel i of the output
                g.desc[name] = _merge(g, name, ins, out_ch)
        else:  # FREEZERS
            for d in ins:
                g.freeze(d, f"input of {cls} '{name}'")
            g.desc[name] = [g.new_space(out_ch, frozen=f"output of {cls} '{name}'")]
        if g.channels(name) != out_ch:
            raise _unsupported(name, f"{cls} changes the channel count in a way the pruner does not model")
    for out_name, _, _ in config["output_layers"]:
        g.freeze(g.desc[out_name], f"model output '{out_name}'")
    return g


def _last_dim(shape) -> int:
    shape = shape[0] if isinstance(shape, list) else shape
    return int(shape[-1])


def _merge(g: ChannelGraph, name: str, ins, out_ch: int) -> List[int]:
    full = [d for d in ins if sum(g.size[s] for s in d) == out_ch]
    for d in ins:
        if sum(g.size[s] for s in d) != out_ch:  # broadcast (e.g. a 1-channel gate): leave it whole
            g.freeze(d, f"broadcast input of '{name}'")
    first = full[0]
    for d in full[1:]:
        if [g.size[s] for s in d] == [g.size[s] for s in first]:
            for a, b in zip(first, d):
                g.union(a, b)
        else:  # differently concatenated inputs: aligning them is possible but not worth the code
            g.freeze(first + d, f"inputs of '{name}' are concatenated differently")
    return list(first)


# ---------------------------------------------------------------- MACs
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
    model = _functional(model)
    total = 0
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in ("Conv2D", "DepthwiseConv2D", "Dense"):
            total += _layer_macs(layer, cls, _last_dim(layer.input_shape), _last_dim(layer.output_shape))
    return int(total)


# ---------------------------------------------------------------- scoring and planning
def _normalised(v: np.ndarray) -> np.ndarray:
    m = float(np.mean(v))
    return v / m if m > 0 else v


def _scores(model, g: ChannelGraph, root: int, group: dict, criterion: str):
    """(per-channel importance, criterion actually used) for one group."""
    model = _functional(model)
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


def _mask(g: ChannelGraph, plan: Plan, desc: List[int]) -> np.ndarray:
    parts = []
    for s in desc:
        m = np.zeros(g.size[s], bool)
        idx = plan.keep.get(g.root(s))
        m[idx if idx is not None else slice(None)] = True
        parts.append(m)
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def planned_macs(model, g: ChannelGraph, plan: Plan) -> int:
    """MACs of the model `apply_plan` would build, without building it (for target searches)."""
    model = _functional(model)
    total = 0
    for name in g.order:
        cls = g.cls[name]
        if cls not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        layer = model.get_layer(name)
        in_ch = int(_mask(g, plan, g.desc[g.inbound[name][0]]).sum())
        out_ch = int(_mask(g, plan, g.desc[name]).sum())
        total += _layer_macs(layer, cls, in_ch, out_ch)
    return int(total)


# ---------------------------------------------------------------- rebuild / mask
def apply_plan(model, g: ChannelGraph, plan: Plan):
    """A new, smaller tf_keras model with the kept channels' weights (BatchNorm statistics included)."""
    keras = compat.keras()
    model = _functional(model)
    config = _copy_config(g.config)
    for e in config["layers"]:
        name = e["name"]
        if g.cls[name] in PRODUCERS:
            n = int(_mask(g, plan, g.desc[name]).sum())
            e["config"]["filters" if g.cls[name] == "Conv2D" else "units"] = n
    new = keras.Model.from_config(config)
    for name in g.order:
        old_layer = model.get_layer(name)
        weights = old_layer.get_weights()
        if not weights:
            continue
        cls = g.cls[name]
        out_m = _mask(g, plan, g.desc[name])
        in_m = _mask(g, plan, g.desc[g.inbound[name][0]]) if g.inbound[name] else None
        if cls in PRODUCERS:
            kernel = weights[0][..., in_m, :][..., out_m]
            sliced = [kernel] + [w[out_m] for w in weights[1:]]
        elif cls == "DepthwiseConv2D":
            sliced = [weights[0][:, :, in_m, :]] + [w[out_m] for w in weights[1:]]
        elif cls == "BatchNormalization":
            sliced = [w[out_m] for w in weights]
        else:
            raise _unsupported(name, f"{cls} with weights")
        new.get_layer(name).set_weights(sliced)
    return new


def _copy_config(config: dict) -> dict:
    import copy

    return copy.deepcopy(config)


def mask_model(model, g: ChannelGraph, plan: Plan):
    """A copy of `model` where the pruned channels are cut off: every consumer's input rows for them
    are zero. Its outputs equal `apply_plan`'s (the rebuild is exact), which is what tests check."""
    keras = compat.keras()
    model = _functional(model)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in g.order:
        if g.cls[name] not in PRODUCERS:
            continue
        in_m = _mask(g, plan, g.desc[g.inbound[name][0]])
        if in_m.all():
            continue
        layer = copy.get_layer(name)
        w = layer.get_weights()
        w[0][..., ~in_m, :] = 0.0
        layer.set_weights(w)
    return copy


# ---------------------------------------------------------------- one-call API
def prune_channels(model, ratio: Optional[float] = None, ratios: Optional[Dict[str, float]] = None,
                   criterion: str = "l1", round_to: int = 8, where: str = "prune_channels"):
    """(smaller model, report) for a global ratio or per-layer {regex: ratio}; no fine-tuning."""
    g = analyse(model)
    plan = plan_channels(model, g, group_ratios(g, ratio, ratios, where), criterion, round_to)
    pruned = apply_plan(model, g, plan)
    return pruned, _size_report(model, pruned, plan)


def _size_report(before, after, plan: Plan) -> dict:
    return {"macs_before": count_macs(before), "macs_after": count_macs(after),
            "params_before": int(before.count_params()), "params_after": int(after.count_params()),
            "groups_pruned": len(plan.groups), "groups": plan.groups}


_MAX_SEARCH_RATIO = 0.9


def _bisect(meets, hi: float, steps: int) -> float:
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

    top = macs_ratio(_MAX_SEARCH_RATIO)
    if top > target:
        raise UserInputError(f"{where}.target_macs_ratio: {target} is out of reach (ratio {_MAX_SEARCH_RATIO} on "
                             f"every layer leaves {top:.3f} of the MACs; the frozen layers keep theirs); raise it")
    return round(_bisect(lambda r: macs_ratio(r) <= target, _MAX_SEARCH_RATIO, 14), 4)


def int8_latency_ms(model, calibration: np.ndarray, threads: int = 1, runs: int = 50, warmup: int = 5,
                    warmup_min_s: float = WARMUP_MIN_S) -> float:
    """p50 host latency of the full-int8 conversion of `model` (a fresh benchmark process)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return int8_reference(model, calibration, d, threads, runs, warmup, warmup_min_s, name="m.tflite")[1]


def int8_reference(model, calibration: np.ndarray, folder: str, threads: int = 1, runs: int = 50,
                   warmup: int = 5, warmup_min_s: float = WARMUP_MIN_S, name: str = "unpruned.tflite"):
    """(path of `model` converted to int8 as `folder`/`name`, its host p50 in ms)."""
    from pathlib import Path

    from .bench.host import benchmark_host
    from .convert import convert_keras

    path = Path(folder) / name
    path.write_bytes(convert_keras(model, "int8", calibration))
    ms = benchmark_host(path, threads=threads, runs=runs, warmup=warmup, warmup_min_s=warmup_min_s)["latency_ms_p50"]
    return path, float(ms)


def int8_latency_ratio(model, reference_path, calibration: np.ndarray, rounds: int = 3, threads: int = 1,
                       runs: int = 50, warmup: int = 5, warmup_min_s: float = WARMUP_MIN_S) -> float:
    """p50 of `model` (converted to int8) over p50 of the .tflite at `reference_path`, timed in
    alternation `rounds` times; the median ratio. Alternating keeps load drift on a shared host
    out of the ratio (single probes moved the latency allocation between two runs)."""
    import statistics
    import tempfile
    from pathlib import Path

    from .bench.host import benchmark_host
    from .convert import convert_keras

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "probe.tflite"
        path.write_bytes(convert_keras(model, "int8", calibration))
        ratios = []
        bench = {"threads": threads, "runs": runs, "warmup": warmup, "warmup_min_s": warmup_min_s}
        for _ in range(rounds):
            ref = benchmark_host(reference_path, **bench)["latency_ms_p50"]
            ratios.append(benchmark_host(path, **bench)["latency_ms_p50"] / ref)
    return float(statistics.median(ratios))


def ratio_for_latency(model, g: ChannelGraph, target: float, calibration, criterion: str = "l1",
                      round_to: int = 8, threads: int = 1, runs: int = 50, warmup: int = 5,
                      warmup_min_s: float = WARMUP_MIN_S,
                      where: str = "prune_channels", log=None):
    """(global ratio, measurements) meeting int8 latency <= target x the unpruned model's (bisection,
    5 probes). Measurements are noisy on a shared host; each probe is reported."""
    base = int8_latency_ms(model, calibration, threads, runs, warmup, warmup_min_s)
    probes = []

    def lat_ratio(r):
        plan = plan_channels(model, g, group_ratios(g, r, clamp=True), criterion, round_to)
        ms = int8_latency_ms(apply_plan(model, g, plan), calibration, threads, runs, warmup, warmup_min_s)
        probes.append({"ratio": round(r, 4), "latency_ms_p50": ms, "latency_ratio": ms / base})
        if log:
            log(f"    ratio {r:.3f}: int8 {ms:.3f} ms ({ms / base:.3f} of {base:.3f} ms)")
        return ms / base

    if lat_ratio(_MAX_SEARCH_RATIO) > target:
        raise UserInputError(f"{where}.target_latency_ratio: {target} is out of reach (ratio {_MAX_SEARCH_RATIO} "
                             f"gives {probes[-1]['latency_ratio']:.3f} of {base:.3f} ms); raise it")
    hi = _bisect(lambda r: lat_ratio(r) <= target, _MAX_SEARCH_RATIO, 5)
    return round(hi, 4), {"baseline_latency_ms_p50": base, "probes": probes}


def resolution_buckets(model, g: ChannelGraph) -> Dict[int, List[int]]:
    """Prunable groups keyed by the spatial size (height) of their producer's output; Dense: 1."""
    out: Dict[int, List[int]] = {}
    for root, grp in g.prunable().items():
        shape = _functional(model).get_layer(grp["producers"][0]).output_shape
        out.setdefault(int(shape[1]) if len(shape) == 4 else 1, []).append(root)
    return dict(sorted(out.items(), reverse=True))


def ratios_by_latency(model, g: ChannelGraph, target: float, calibration, criterion: str = "l1",
                      round_to: int = 8, max_ratio: float = 0.75, probe_ratio: float = 0.5,
                      threads: int = 1, runs: int = 50, warmup: int = 5, warmup_min_s: float = WARMUP_MIN_S,
                      where: str = "prune_channels",
                      log=None):
    """Per-group ratios meeting `target` MACs that remove the MACs which cost the most time.

    A MAC is not a fixed amount of time: on XNNPACK int8 a depthwise conv on a large feature map is
    memory-bound and slower per MAC than a 1x1 conv on a small one. So the groups are bucketed by
    feature-map size, each bucket is probed once (pruned alone at `probe_ratio`, converted, timed in
    alternation with the unpruned model) for its latency saved per MAC removed, and the buckets are then pruned greedily, most efficient
    first, each up to `max_ratio`; the last one by bisection on (analytic) MACs.
    Returns ({group root: ratio}, measurements)."""
    import tempfile

    base_macs = count_macs(model)
    bench = {"threads": threads, "runs": runs, "warmup": warmup, "warmup_min_s": warmup_min_s}
    tmp = tempfile.TemporaryDirectory()
    reference, base_ms = int8_reference(model, calibration, tmp.name, **bench)

    def clamped(roots, r):
        return {root: min(r, 1.0 - 1.0 / g.prunable()[root]["size"]) for root in roots}

    def macs_ratio(by_group):
        return planned_macs(model, g, plan_channels(model, g, by_group, criterion, round_to)) / base_macs

    probes = []
    for size, roots in resolution_buckets(model, g).items():
        plan = plan_channels(model, g, clamped(roots, min(probe_ratio, max_ratio)), criterion, round_to)
        saved_macs = 1.0 - planned_macs(model, g, plan) / base_macs
        if saved_macs <= 0:
            continue
        saved_ms = 1.0 - int8_latency_ratio(apply_plan(model, g, plan), reference, calibration, **bench)
        probes.append({"feature_map": size, "groups": len(roots), "macs_saved": round(saved_macs, 4),
                       "latency_saved": round(saved_ms, 4), "efficiency": round(saved_ms / saved_macs, 3),
                       "roots": roots})
        if log:
            log(f"    {size}x{size} maps ({len(roots)} groups): {saved_macs:.3f} of the MACs saves "
                f"{saved_ms:.3f} of {base_ms:.3f} ms (x{saved_ms / saved_macs:.2f})")
    ratios: Dict[int, float] = {}
    for probe in sorted(probes, key=lambda p: -p["efficiency"]):
        full = {**ratios, **clamped(probe["roots"], max_ratio)}
        if macs_ratio(full) > target:
            ratios, probe["ratio"] = full, max_ratio
            continue
        hi = _bisect(lambda r: macs_ratio({**ratios, **clamped(probe["roots"], r)}) <= target, max_ratio, 12)
        ratios.update(clamped(probe["roots"], hi))
        probe["ratio"] = round(hi, 4)
        break
    else:
        raise UserInputError(f"{where}.target_macs_ratio: {target} is out of reach with max_ratio {max_ratio} "
                             f"(it leaves {macs_ratio(ratios):.3f} of the MACs); raise max_ratio or the target")
    tmp.cleanup()
    for p in probes:
        p.pop("roots")
    return ratios, {"baseline_latency_ms_p50": base_ms, "probes": probes}


def recalibrate_batchnorm(model, images: np.ndarray, steps: int, batch_size: int, seed: int = 0) -> int:
    """Re-estimate every BatchNorm's moving statistics on `images` (in place); returns their count.

    Removing channels changes what each later layer sees, so the statistics the unpruned model
    learnt no longer fit: MobileNetV2 on Fashion-MNIST falls to chance (10%) when cut, and the
    fine-tune then spends its first epoch relearning them. Forward passes in training mode from a
    reset (mean 0, variance 1), with the EMA's bias towards the reset removed afterwards, give
    the statistics of the pruned network itself (as in AMC / NetAdapt-style pruning)."""
    from .optimize import training_passes

    keras, tf = compat.keras(), compat.tf()
    bns = [l for l in _functional(model).layers if isinstance(l, keras.layers.BatchNormalization)]
    if steps <= 0 or not bns or len(images) == 0:
        return 0
    for layer in bns:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
    training_passes(model, images, steps, batch_size, seed)
    for layer in bns:
        kept = float(layer.momentum) ** steps
        layer.moving_mean.assign(layer.moving_mean / (1.0 - kept))
        layer.moving_variance.assign((layer.moving_variance - kept) / (1.0 - kept))
    return len(bns)


# ---------------------------------------------------------------- recipe integration
def check_model(model, spec, where: str = "prune_channels", task: str = "classification") -> None:
    """Fail fast (at build, before training) on what the pruner will refuse later."""
    g = analyse(model)
    if spec.distill_from_unpruned and task != "classification":
        raise UserInputError(f"{where}.distill_from_unpruned: classification only; set it to false")
    if spec.ratio is not None or spec.ratios is not None:
        plan_channels(model, g, group_ratios(g, spec.ratio, spec.ratios, where), spec.criterion, spec.round_to)
        return
    if not g.prunable():
        raise UserInputError(f"{where}: no prunable channel in this model (every channel feeds an input, "
                             "output or reshape)")
    if spec.target_macs_ratio is None:
        return
    if spec.allocation == "latency":  # the MACs side of the allocation is analytic: check it now
        plan = plan_channels(model, g, {root: min(spec.max_ratio, 1.0 - 1.0 / grp["size"])
                                        for root, grp in g.prunable().items()}, spec.criterion, spec.round_to)
        left = planned_macs(model, g, plan) / count_macs(model)
        if left > spec.target_macs_ratio:
            raise UserInputError(f"{where}.target_macs_ratio: {spec.target_macs_ratio} is out of reach with "
                                 f"max_ratio {spec.max_ratio} (it leaves {left:.3f} of the MACs); raise max_ratio "
                                 "or the target")
    else:
        ratio_for_macs(model, g, spec.target_macs_ratio, spec.criterion, spec.round_to, where)


def check_recipe(recipe, model) -> None:
    """Run `check_model` for every prune_channels step of the recipe (build stage calls this)."""
    for i, step in enumerate(recipe.optimize):
        spec = getattr(step, "prune_channels", None)
        if spec is not None:
            check_model(model, spec, f"optimize[{i}].prune_channels", recipe.task)


def _accuracy(ctx, model) -> Optional[float]:
    if ctx.recipe.task != "classification":
        return None
    from .data.pipeline import numpy_batches
    from .evaluate import keras_predict

    d = ctx.dataset
    return float(np.mean(keras_predict(model, numpy_batches(d.test_x, d, ctx.input_spec)) == np.asarray(d.test_y)))


def _fit_from_teacher(ctx, student, teacher, epochs: int, learning_rate: float, label: str) -> dict:
    """Distil `student` from `teacher` (the unpruned model) with the recipe's teacher settings, or
    Hinton's defaults (T 4, alpha 0.1, beta 0.9) when the recipe has no teacher."""
    from types import SimpleNamespace

    from .distill import _distiller_class, logits_tensor
    from .progress import epoch_progress
    from .train import _optimizer, datasets

    keras, t = compat.keras(), ctx.recipe.train
    ts = ctx.recipe.teacher
    spec = SimpleNamespace(temperature=ts.temperature if ts else 4.0, alpha=ts.alpha if ts else 0.1,
                           beta=ts.beta if ts else 0.9, hints=[])
    train_ds, val_ds = datasets(ctx)
    z_s, _ = logits_tensor(student)
    z_t, from_probs = logits_tensor(teacher)
    teacher.trainable = False
    distiller = _distiller_class()(student, keras.Model(student.inputs, z_s),
                                   [(keras.Model(teacher.inputs, z_t), from_probs)], [1.0], [], spec,
                                   t.label_smoothing > 0, t.label_smoothing)
    steps = int(train_ds.cardinality().numpy())
    distiller.compile(optimizer=_optimizer(t.optimizer, learning_rate, t.schedule, epochs * max(steps, 0)))
    hist = distiller.fit(train_ds, validation_data=val_ds, epochs=epochs,
                         callbacks=[epoch_progress(epochs, label)], verbose=0)
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def optimize_step(ctx, model, spec, where: str, index: int, history):
    """The `prune_channels` technique for optimize.py: plan, rebuild, fine-tune; returns (model, info)."""
    from .train import fit_model

    t0 = time.monotonic()
    g = analyse(model)
    info: dict = {"criterion": spec.criterion}
    measure = spec.target_latency_ratio is not None or spec.allocation == "latency" or spec.measure_latency
    calibration = None
    if measure:
        from .convert import calibration_images

        calibration = calibration_images(ctx)[:32]  # latency does not depend on calibration quality
    b = ctx.recipe.benchmark
    bench = {"threads": 1, "runs": b.runs, "warmup": b.warmup, "warmup_min_s": b.warmup_min_s}
    if spec.ratios is not None:
        by_group = group_ratios(g, None, spec.ratios, where)
    else:
        ratio = spec.ratio
        if spec.target_macs_ratio is not None and spec.allocation == "latency":
            by_group, search = ratios_by_latency(model, g, spec.target_macs_ratio, calibration, spec.criterion,
                                                 spec.round_to, spec.max_ratio, where=where, log=ctx.log,
                                                 **bench)
            info.update({"allocation": "latency", "latency_search": search})
        elif spec.target_macs_ratio is not None:
            ratio = ratio_for_macs(model, g, spec.target_macs_ratio, spec.criterion, spec.round_to, where)
            info["chosen_ratio"] = ratio
        elif spec.target_latency_ratio is not None:
            ratio, search = ratio_for_latency(model, g, spec.target_latency_ratio, calibration, spec.criterion,
                                              spec.round_to, where=where, log=ctx.log, **bench)
            info.update({"chosen_ratio": ratio, "latency_search": search})
        if "allocation" not in info:
            by_group = group_ratios(g, ratio, None, where, clamp=ratio != spec.ratio)
    plan = plan_channels(model, g, by_group, spec.criterion, spec.round_to)
    pruned = apply_plan(model, g, plan)
    info.update(_size_report(model, pruned, plan))
    info["macs_ratio"] = info["macs_after"] / max(1, info["macs_before"])
    info["accuracy_before"] = _accuracy(ctx, model)
    info["accuracy_pruned_as_cut"] = _accuracy(ctx, pruned)
    if spec.bn_recalibration_steps:
        from .convert import calibration_images as images

        info["bn_recalibrated_layers"] = recalibrate_batchnorm(pruned, images(ctx), spec.bn_recalibration_steps,
                                                               ctx.recipe.data.batch_size, ctx.recipe.seed)
    info["accuracy_pruned_before_fine_tune"] = _accuracy(ctx, pruned)
    if measure:
        before = (info.get("latency_search") or {}).get("baseline_latency_ms_p50") or \
            int8_latency_ms(model, calibration, **bench)
        after = int8_latency_ms(pruned, calibration, **bench)
        info.update({"int8_latency_ms_p50_before": before, "int8_latency_ms_p50_after": after,
                     "latency_speedup": before / after if after else None,
                     "latency_note": "host int8, 1 thread, fresh process each; a shared host adds noise"})
    ctx.log(f"  prune_channels: MACs {info['macs_before']:,} -> {info['macs_after']:,} "
            f"({info['macs_ratio']:.3f}), params {info['params_before']:,} -> {info['params_after']:,}")
    lr = spec.learning_rate or ctx.recipe.train.learning_rate
    if spec.epochs > 0:
        if spec.distill_from_unpruned:
            _fit_from_teacher(ctx, pruned, model, spec.epochs, lr, f"optimize_{index}_prune_channels")
        else:
            fit_model(ctx, pruned, spec.epochs, lr, f"optimize_{index}_prune_channels")
    info["distilled_from_unpruned"] = bool(spec.distill_from_unpruned and spec.epochs > 0)
    info["plan_seconds"] = round(time.monotonic() - t0, 3)
    return pruned, info
