"""Latency-driven ratio searches: int8 conversions of candidate models timed on this host."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from ..bench import WARMUP_MIN_S
from ..errors import UserInputError
from .graph import ChannelGraph, functional
from .plan import MAX_SEARCH_RATIO, bisect_ratio, count_macs, group_ratios, plan_channels, planned_macs
from .rebuild import apply_plan


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

    from ..bench.host import benchmark_host
    from ..export import convert_keras

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

    from ..bench.host import benchmark_host
    from ..export import convert_keras

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

    if lat_ratio(MAX_SEARCH_RATIO) > target:
        raise UserInputError(f"{where}.target_latency_ratio: {target} is out of reach (ratio {MAX_SEARCH_RATIO} "
                             f"gives {probes[-1]['latency_ratio']:.3f} of {base:.3f} ms); raise it")
    hi = bisect_ratio(lambda r: lat_ratio(r) <= target, MAX_SEARCH_RATIO, 5)
    return round(hi, 4), {"baseline_latency_ms_p50": base, "probes": probes}


def resolution_buckets(model, g: ChannelGraph) -> Dict[int, List[int]]:
    """Prunable groups keyed by the spatial size (height) of their producer's output; Dense: 1."""
    out: Dict[int, List[int]] = {}
    for root, grp in g.prunable().items():
        shape = functional(model).get_layer(grp["producers"][0]).output_shape
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
        hi = bisect_ratio(lambda r: macs_ratio({**ratios, **clamped(probe["roots"], r)}) <= target, max_ratio, 12)
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
