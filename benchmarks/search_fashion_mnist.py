"""Latency-aware search on Fashion-MNIST against MobileNetV2 1.0 at the same input size.

    python benchmarks/search_fashion_mnist.py [--out runs/bench_search] [--set KEY=VALUE ...]

Runs the `search` stage of recipes/fashion_mnist_search.yaml, then retrains the best trial's model
and MobileNetV2 1.0 at its input size the same way (same data, seed, int8 conversion,
--final-epochs epochs instead of the trials' short schedule).
Both int8 models are scored on the whole Fashion-MNIST test split and timed on this host with one
thread, alternating between the two so background load hits both alike.

Writes benchmarks/results/search_fashion_mnist.json and prints the speed-up and accuracy delta.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "fashion_mnist_search.yaml"
RESULTS = ROOT / "benchmarks" / "results"


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_search"))
    ap.add_argument("--set", action="append", default=[], help="recipe override, e.g. search.trials=10")
    ap.add_argument("--rounds", type=int, default=5, help="alternating latency rounds per model")
    ap.add_argument("--final-epochs", type=int, default=6, help="epochs the winner and the baseline are "
                    "retrained for before they are compared")
    args = ap.parse_args()

    from tflite_edge.bench.host import benchmark_host
    from tflite_edge.data.pipeline import numpy_batches
    from tflite_edge.tasks.classification.evaluate import tflite_predict
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec, load_recipe
    from tflite_edge.run import RunContext, plan
    from tflite_edge.search.stage import search
    from tflite_edge.search.trial import measure_trial

    import numpy as np

    recipe = load_recipe(RECIPE, args.set)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    manifest, _ = plan(recipe, out, None)
    ctx = RunContext(recipe, out, manifest)
    ctx.dataset  # loading Fashion-MNIST is not search time

    wall0, cpu0 = time.monotonic(), cpu_seconds()
    found = search(ctx)
    search_wall, search_cpu = time.monotonic() - wall0, cpu_seconds() - cpu0
    best_spec = ModelSpec.model_validate(found["model"])
    best = json.loads(ctx.path(f"search/trials/trial_{found['best_trial']}.json").read_text())
    size = best["input_size"]

    base_spec = ModelSpec(name="mobilenet_v2", width=1.0, input_size=size, stem_stride=recipe.model.stem_stride,
                          activation=recipe.model.activation)
    # Trials train briefly (search.epochs_per_trial) to rank architectures; the comparison retrains
    # the winner and MobileNetV2 1.0 alike, longer, from the same seed and data.
    final = load_recipe(RECIPE, [*args.set, f"search.epochs_per_trial={args.final_epochs}"])
    fctx = RunContext(final, out, manifest)
    t0 = time.monotonic()
    best = measure_trial(fctx, best_spec, "final_searched")
    base = measure_trial(fctx, base_spec, "final_baseline")
    base_seconds = time.monotonic() - t0

    d = ctx.dataset
    spec = InputSpec(size, size, recipe.model.channels or d.channels)
    labels = np.asarray(d.test_y)
    acc = {name: float(np.mean(tflite_predict(ctx.path(rel), numpy_batches(d.test_x, d, spec)) == labels))
           for name, rel in (("searched", best["artifact"]), ("baseline", base["artifact"]))}

    p50 = {"searched": [], "baseline": []}
    for _ in range(args.rounds):
        for name, rel in (("searched", best["artifact"]), ("baseline", base["artifact"])):
            p50[name].append(benchmark_host(ctx.path(rel), threads=1, runs=200, warmup=20)["latency_ms_p50"])
    lat = {k: statistics.median(v) for k, v in p50.items()}
    speedup = lat["baseline"] / lat["searched"]
    delta_points = 100 * (acc["searched"] - acc["baseline"])

    result = {
        "recipe": str(RECIPE.relative_to(ROOT)), "overrides": args.set,
        "search": {"wall_s": round(search_wall, 1), "cpu_s": round(search_cpu, 1),
                   "trials_completed": found["trials_completed"], "trials_failed": found["trials_failed"],
                   "best_trial": found["best_trial"], "front": found["front"],
                   "best_model": best_spec.model_dump(mode="json")},
        "final_epochs": args.final_epochs,
        "baseline": {"model": base_spec.model_dump(mode="json")},
        "retrain_both_s": round(base_seconds, 1),
        "test_accuracy_int8": acc, "latency_ms_p50_int8_1thread": lat, "latency_rounds": p50,
        "size_bytes": {"searched": best["size_bytes"], "baseline": base["size_bytes"]},
        "speedup": round(speedup, 3), "accuracy_delta_points": round(delta_points, 2),
        "goal": {"speedup_at_least": 1.5, "accuracy_within_points": 1.0,
                 "met": speedup >= 1.5 and delta_points >= -1.0},
        "host": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_fashion_mnist.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"search: {found['trials_completed']} trials completed ({found['trials_failed']} failed) in "
          f"{search_wall / 60:.1f} min wall, {search_cpu / 60:.1f} min CPU; best trial {found['best_trial']}")
    print(f"searched : {best_spec.width:g} width, depth {best_spec.depth_multiplier:g}, {size} px, "
          f"k={best_spec.kernel_sizes}, e={best_spec.expansions}: int8 test accuracy {acc['searched']:.4f}, "
          f"{lat['searched']:.3f} ms, {best['size_bytes']:,} B")
    print(f"baseline : MobileNetV2 1.0, {size} px: int8 test accuracy {acc['baseline']:.4f}, "
          f"{lat['baseline']:.3f} ms, {base['size_bytes']:,} B")
    print(f"speed-up {speedup:.2f}x (int8, host, 1 thread), accuracy delta {delta_points:+.2f} points; "
          f"goal (>= 1.5x, within 1.0 point) {'met' if result['goal']['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
