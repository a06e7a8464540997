"""Where does channel pruning buy latency? int8 host latency vs MACs for MobileNetV2 1.0.

    python benchmarks/channel_prune_latency_study.py [--sizes 28,56] [--macs 0.5] [--rounds 5]

Latency does not depend on trained weights, so this uses freshly built models (random weights,
L1 criterion) and random calibration data: it runs in a few minutes and isolates the structure.
For each input size it times, interleaved (1 thread, fresh process per measurement), the unpruned
int8 model and the pruned ones at the same MACs budget:
  uniform  - one global ratio for every prunable group (`target_macs_ratio`)
  latency  - per-feature-map-size ratios from measured latency probes (`allocation: latency`)
Writes benchmarks/results/channel_prune_latency_study.txt.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="28,56")
    ap.add_argument("--macs", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--allocations", default="uniform,latency")
    ap.add_argument("--max-ratio", type=float, default=0.75)
    args = ap.parse_args()
    import numpy as np

    from tflite_edge import channel_prune as cp
    from tflite_edge.bench.host import benchmark_host
    from tflite_edge.export import convert_keras
    from tflite_edge.models.classifier import InputSpec, build_classifier
    from tflite_edge.recipe import ModelSpec

    lines = [f"load at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"]
    tmp = Path(tempfile.mkdtemp())
    for size in [int(s) for s in args.sizes.split(",")]:
        model = build_classifier(ModelSpec(name="mobilenet_v2", width=1.0, stem_stride=1),
                                 InputSpec(size, size, 1), 10)
        calib = np.random.default_rng(0).random((16, size, size, 1), dtype=np.float32) * 2 - 1
        g = cp.analyse(model)
        variants = {"unpruned": (model, 1.0)}
        for alloc in args.allocations.split(","):
            if alloc == "uniform":
                ratios = cp.group_ratios(g, cp.ratio_for_macs(model, g, args.macs), clamp=True)
            else:
                ratios, search = cp.ratios_by_latency(model, g, args.macs, calib[:4], max_ratio=args.max_ratio,
                                                      log=print)
                lines.append(f"{size:>3} px  latency probes: " + "; ".join(
                    f"{p['feature_map']}px x{p['efficiency']} -> ratio {p.get('ratio', 0)}" for p in search["probes"]))
            pruned = cp.apply_plan(model, g, cp.plan_channels(model, g, ratios))
            variants[alloc] = (pruned, cp.count_macs(pruned) / cp.count_macs(model))
        paths = {}
        for name, (m, _) in variants.items():
            paths[name] = tmp / f"{size}_{name}.tflite"
            paths[name].write_bytes(convert_keras(m, "int8", calib))
        lat = {n: [] for n in paths}
        for _ in range(args.rounds):
            for n, p in paths.items():
                lat[n].append(benchmark_host(p, threads=1, runs=100, warmup=10)["latency_ms_p50"])
        p50 = {n: statistics.median(v) for n, v in lat.items()}
        for n in paths:
            lines.append(f"{size:>3} px  {n:<9} MACs ratio {variants[n][1]:.3f}  int8 p50 {p50[n]:.3f} ms  "
                         f"speed-up {p50['unpruned'] / p50[n]:.2f}x  (rounds {', '.join(f'{v:.3f}' for v in lat[n])})")
        print("\n".join(lines[-len(paths):]), flush=True)
    lines.append(f"load at end {os.getloadavg()[0]:.2f}")
    out = ROOT / "benchmarks" / "results" / "channel_prune_latency_study.txt"
    out.write_text("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
