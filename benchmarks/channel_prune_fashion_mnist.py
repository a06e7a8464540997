"""Channel pruning vs tfmot unstructured pruning: MobileNetV2 1.0 (stem stride 1) on Fashion-MNIST.

    python benchmarks/channel_prune_fashion_mnist.py [--out runs/bench_channel_prune] [--fresh]
                                                     [--train-samples 30000] [--epochs 6]
                                                     [--allocation latency|uniform]

One model is trained once; from it, in the same script:
  baseline  - no optimization, int8 (post-training)
  channels  - prune_channels to 50% of the MACs (by default shared out by measured latency per
              feature-map size), fine-tuned (distilled from the unpruned model), int8
  tfmot     - tfmot prune_low_magnitude 50% (unstructured), fine-tuned, int8
The three int8 files are then timed interleaved (1 thread, ai_edge_litert, a fresh process per
measurement, several rounds), so a busy host slows all three alike and the ratios stay fair.
Writes benchmarks/results/channel_prune_fashion_mnist.json and .txt.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))


def recipe_dict(args, optimize):
    return {
        "name": "fmnist_channels", "seed": 0,
        "data": {"dataset": "fashion_mnist", "train_samples": args.train_samples, "test_samples": args.test_samples,
                 "batch_size": 64, "validation_fraction": 0.1},
        "model": {"name": "mobilenet_v2", "width": 1.0, "stem_stride": 1},
        "train": {"epochs": args.epochs, "learning_rate": 0.002, "schedule": "cosine", "tensorboard": False},
        "optimize": optimize,
        "convert": {"formats": ["float32", "int8"], "calibration_samples": 200},
        "benchmark": {"runs": 20, "warmup": 3},
    }


def load_avg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_channel_prune"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--train-samples", type=int, default=30000)
    ap.add_argument("--test-samples", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--fine-tune-epochs", type=int, default=3)
    ap.add_argument("--allocation", choices=["uniform", "latency"], default="latency")
    ap.add_argument("--max-ratio", type=float, default=0.75)
    ap.add_argument("--fine-tune-lr", type=float, default=0.0005)
    ap.add_argument("--tfmot-epochs", type=int, help="fine-tune epochs of the tfmot variant (default: "
                    "--fine-tune-epochs); it is there for its latency, which does not depend on them")
    ap.add_argument("--trained-from", help="a finished run directory of this script's `channels` or "
                    "`baseline` variant: reuse its trained model instead of training again")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from tflite_edge.bench.host import benchmark_host
    from tflite_edge.recipe import validate_dict
    from tflite_edge.run import run_recipe

    base = Path(args.out)
    if args.fresh:
        shutil.rmtree(base, ignore_errors=True)
    ft, lr = args.fine_tune_epochs, args.fine_tune_lr
    variants = {
        "channels": [{"prune_channels": {"target_macs_ratio": 0.5, "allocation": args.allocation,
                                         "max_ratio": args.max_ratio, "criterion": "l1", "epochs": ft,
                                         "learning_rate": lr, "distill_from_unpruned": True}}],
        "baseline": [],
        "tfmot": [{"prune": {"sparsity": 0.5, "epochs": args.tfmot_epochs if args.tfmot_epochs is not None else ft,
                             "learning_rate": lr}}],
    }
    if args.trained_from and not (base / "channels" / "manifest.json").exists():
        base.mkdir(parents=True, exist_ok=True)
        shutil.copytree(args.trained_from, base / "channels", ignore=shutil.ignore_patterns("artifacts", "report.*"))
    load = {"start": load_avg()}
    reports, seconds = {}, {}
    # Rerunning without --fresh reuses the finished runs and redoes only the timing (e.g. on a
    # quieter machine); the training times of the first pass are kept.
    prev_path = RESULTS / "channel_prune_fashion_mnist.json"
    previous = json.loads(prev_path.read_text()) if prev_path.exists() and not args.fresh else {}
    for name, steps in variants.items():
        out = base / name
        t0 = time.monotonic()
        recipe = validate_dict(recipe_dict(args, steps))
        if name == "channels" and args.trained_from and not (out / "report.json").exists():
            reports[name] = run_recipe(recipe, out, from_stage="optimize", log=print)
        elif name != "channels" and not (out / "manifest.json").exists():
            # the same trained model for every variant: copy the first run, redo from optimize
            shutil.copytree(base / "channels", out, ignore=shutil.ignore_patterns("artifacts", "report.*"))
            reports[name] = run_recipe(recipe, out, from_stage="optimize", log=print)
        else:
            reports[name] = run_recipe(recipe, out, log=print)
        seconds[name] = round(time.monotonic() - t0, 1)
        if seconds[name] < 30 and previous.get("seconds", {}).get(name):  # a finished run reused
            seconds[name] = previous["seconds"][name]
        print(f"== {name} done in {seconds[name]} s (load {load_avg()})", flush=True)
    load["after_training"] = load_avg()

    int8 = {n: next(a for a in r["artifacts"] if a["format"] == "int8") for n, r in reports.items()}
    lat = {n: [] for n in int8}
    for k in range(args.rounds):  # interleaved: load changes hit every model in each round
        for n, a in int8.items():
            r = benchmark_host(base / n / a["path"], threads=1, runs=50, warmup=5)
            lat[n].append(r["latency_ms_p50"])
        print(f"round {k}: " + ", ".join(f"{n} {v[-1]:.3f} ms" for n, v in lat.items()), flush=True)
    load["after_timing"] = load_avg()
    p50 = {n: statistics.median(v) for n, v in lat.items()}
    step = reports["channels"]["optimize"][0]
    trained_acc = reports["baseline"]["keras"]["accuracy"]
    res = {
        "model": "mobilenet_v2 width 1.0, stem_stride 1, 28x28x1", "args": vars(args),
        "trained_keras_accuracy": trained_acc,
        "channels": {k: step.get(k) for k in ("allocation", "latency_search", "chosen_ratio", "macs_before",
                                               "macs_after", "macs_ratio",
                                               "params_before", "params_after", "accuracy_before",
                                               "accuracy_pruned_before_fine_tune", "accuracy",
                                               "int8_latency_ms_p50_before", "int8_latency_ms_p50_after",
                                               "groups_pruned")},
        "tfmot": {k: reports["tfmot"]["optimize"][0].get(k) for k in ("sparsity", "accuracy", "gzip_bytes")},
        "int8": {n: {"accuracy": a["accuracy"], "size_bytes": a["size_bytes"], "gzip_bytes": a["gzip_bytes"],
                     "latency_ms_p50_rounds": lat[n], "latency_ms_p50_median": p50[n]} for n, a in int8.items()},
        "speedup_channels_vs_baseline": p50["baseline"] / p50["channels"],
        "speedup_tfmot_vs_baseline": p50["baseline"] / p50["tfmot"],
        "keras_accuracy_drop_points_channels": 100 * (trained_acc - reports["channels"]["keras"]["accuracy"]),
        "int8_accuracy_drop_points_channels": 100 * (int8["baseline"]["accuracy"] - int8["channels"]["accuracy"]),
        "host_load_avg_1_5_15": load, "seconds": seconds,
        "environment": reports["baseline"].get("environment"),
    }
    res["figure_met"] = {"macs_halved": step["macs_ratio"] <= 0.5,
                         "speedup_at_least_1.7x": res["speedup_channels_vs_baseline"] >= 1.7,
                         # to the test split's resolution (10,000 images: 0.01 point), not float noise
                         "keras_accuracy_within_1_point": round(res["keras_accuracy_drop_points_channels"], 2) <= 1.0}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "channel_prune_fashion_mnist.json").write_text(json.dumps(res, indent=2) + "\n")
    c = res["channels"]
    lines = [
        f"MobileNetV2 1.0 (stem stride 1) on Fashion-MNIST, {args.train_samples} train / {args.test_samples} test, "
        f"{args.epochs} epochs, fine-tune {ft} epochs at {lr:g}" + (f" (trained model from {args.trained_from})"
                                                                   if args.trained_from else ""),
        f"host load (1/5/15 min): {json.dumps(load)}",
        f"trained Keras accuracy           {100 * trained_acc:.2f}%",
        f"prune_channels ({c.get('allocation') or 'uniform'} allocation, ratio "
        f"{c.get('chosen_ratio') or 'per layer'}): MACs {c['macs_before']:,} -> {c['macs_after']:,} "
        f"({c['macs_ratio']:.3f}), params {c['params_before']:,} -> {c['params_after']:,}",
        f"  accuracy pruned before fine-tune {100 * c['accuracy_pruned_before_fine_tune']:.2f}%, after "
        f"{100 * c['accuracy']:.2f}% (drop {res['keras_accuracy_drop_points_channels']:.2f} pt)",
        f"tfmot 50% unstructured: sparsity {res['tfmot']['sparsity']:.3f}, accuracy {100 * res['tfmot']['accuracy']:.2f}%",
        "int8 host latency p50, 1 thread, median of interleaved rounds:",
    ]
    for n in int8:
        lines.append(f"  {n:<9} {p50[n]:.3f} ms  (rounds {', '.join(f'{v:.3f}' for v in lat[n])})  "
                     f"acc {100 * int8[n]['accuracy']:.2f}%  size {int8[n]['size_bytes']:,} B "
                     f"gzip {int8[n]['gzip_bytes']:,} B")
    lines += [f"speed-up vs baseline: channels {res['speedup_channels_vs_baseline']:.2f}x, "
              f"tfmot {res['speedup_tfmot_vs_baseline']:.2f}x",
              f"figure met: {json.dumps(res['figure_met'])}"]
    text = "\n".join(lines) + "\n"
    (RESULTS / "channel_prune_fashion_mnist.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
