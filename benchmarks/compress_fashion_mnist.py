"""Compression on Fashion-MNIST: prune 75% + cluster 16 + PCQAT -> int8, against the float model,
a QAT-only int8 and a post-training int8, all from the same trained (distilled) model.

    python benchmarks/compress_fashion_mnist.py [--out runs/bench_compress] [--set KEY=VALUE ...]
                                                [--qat-lrs 0.0002 0.00005]

The recipe names recipes/fashion_mnist_teacher.yaml as its teacher: it runs (or resumes) beside the runs
(OUT/fashion_mnist_teacher). Writes benchmarks/results/compress_fashion_mnist.json (and .txt). Rerunnable: each variant copies
the trained run directory and reruns from `optimize`, so the model is trained once.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "fashion_mnist_compress.yaml"
RESULTS = ROOT / "benchmarks" / "results"


def run(recipe, out: Path, sets, from_stage=None):
    cmd = [sys.executable, "-m", "tflite_edge.cli", "run", str(recipe), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    manifest = out / "manifest.json"
    if manifest.exists() and (out / "bench_stdout.txt").exists():
        # an interrupted benchmark resumes at its first unfinished stage
        done = json.loads(manifest.read_text())["stages"]
        stages = ["build", "train", "optimize", "convert", "evaluate", "benchmark", "report"]
        first = next((st for st in stages if not done.get(st, {}).get("done")), None)
        if first is None:
            return json.loads((out / "report.json").read_text()), 0.0
        from_stage = first if from_stage is None or stages.index(first) > stages.index(from_stage) \
            else from_stage
    if from_stage:
        cmd += ["--from", from_stage]
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    (out / "bench_stdout.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "bench_stdout.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode not in (0, 3):  # 3: a gate failed, the report is still written
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"run failed ({proc.returncode})")
    return json.loads((out / "report.json").read_text()), time.monotonic() - t0


def art(rep, fmt):
    return next(a for a in rep["artifacts"] if a["format"] == fmt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_compress"))
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--fresh", action="store_true", help="delete earlier run directories first")
    ap.add_argument("--trained-from", help="a finished `full` run directory of this script: reuse its trained "
                    "model (and teacher) and redo optimize onwards")
    ap.add_argument("--qat-lrs", type=float, nargs="*", default=[],
                    help="extra QAT-only variants at these learning rates (reported beside the recipe's)")
    args = ap.parse_args()
    base = Path(args.out)
    if args.fresh:
        shutil.rmtree(base, ignore_errors=True)

    if args.trained_from and not (base / "full").exists():
        # reuse a trained run (teacher and student): only optimize and what follows run again
        shutil.copytree(args.trained_from, base / "full",
                        ignore=shutil.ignore_patterns("artifacts", "report.*", "bench_stdout.txt"))
        full, t_full = run(RECIPE, base / "full", args.set, from_stage="optimize")
    else:
        full, t_full = run(RECIPE, base / "full", args.set)
    manifest = json.loads((base / "full" / "manifest.json").read_text())
    opt = manifest["stages"]["optimize"]["outputs"]
    trained = opt["baseline"]
    variants = {}
    qat = next(s["qat"] for s in yaml.safe_load(RECIPE.read_text())["optimize"] if "qat" in s)
    qat_runs = [("qat", f"[{{qat: {{epochs: {qat['epochs']}, learning_rate: {qat['learning_rate']}}}}}]")]
    qat_runs += [(f"qat_lr{lr:g}", f"[{{qat: {{epochs: {qat['epochs']}, learning_rate: {lr}}}}}]")
                 for lr in args.qat_lrs if lr != qat["learning_rate"]]
    for name, steps in (*qat_runs, ("ptq", "[]")):
        if not (base / name).exists():
            shutil.copytree(base / "full", base / name,
                            ignore=shutil.ignore_patterns("artifacts", "report.*", "bench_stdout.txt"))
        variants[name] = run(RECIPE, base / name, [*args.set, f"optimize={steps}"], from_stage="optimize")

    f32_gzip = trained["gzip_bytes"]
    final_int8 = art(full, "int8")
    float_acc = trained["accuracy"]
    res = {
        "recipe": str(RECIPE.relative_to(ROOT)), "overrides": args.set,
        "float_keras_accuracy": float_acc,
        "float32_tflite_bytes": trained["size_bytes"], "float32_tflite_gzip_bytes": f32_gzip,
        "steps": opt["steps"],
        "compressed_int8": {k: final_int8.get(k) for k in ("size_bytes", "gzip_bytes", "accuracy",
                                                           "tflite_sparsity", "tflite_unique_values")},
        "gzip_ratio_vs_float32": f32_gzip / final_int8["gzip_bytes"],
        "compressed_int8_drop_points": 100 * (float_acc - final_int8["accuracy"]),
        "qat_int8_accuracy": art(variants["qat"][0], "int8")["accuracy"],
        "qat_int8_drop_points": 100 * (float_acc - art(variants["qat"][0], "int8")["accuracy"]),
        "ptq_int8_accuracy": art(variants["ptq"][0], "int8")["accuracy"],
        "ptq_int8_drop_points": 100 * (float_acc - art(variants["ptq"][0], "int8")["accuracy"]),
        "pruned_sparsity_keras": opt["steps"][0]["sparsity"],
        "qat_lr_sweep": {name: {"steps": steps, "int8_accuracy": art(variants[name][0], "int8")["accuracy"],
                                "drop_points": 100 * (float_acc - art(variants[name][0], "int8")["accuracy"])}
                         for name, steps in qat_runs},
        "seconds": {"full": t_full, **{n: v[1] for n, v in variants.items()}},
        "environment": full["environment"],
    }
    # report.json carries the .tflite's own weight sparsity and max distinct values per kernel
    sp = {"sparsity": final_int8.get("tflite_sparsity"), "max_unique_values": final_int8.get("tflite_unique_values")}
    res["final_int8_sparsity_vs_pruned"] = (sp["sparsity"], opt["steps"][0]["sparsity"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compress_fashion_mnist.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [f"float Keras accuracy           {100 * float_acc:.2f}%",
             f"float32 tflite                  {trained['size_bytes']:,} B, gzip {f32_gzip:,} B"]
    for s in opt["steps"]:
        lines.append(f"after {s['name']:<8} acc {100 * s['accuracy']:.2f}%  sparsity {s['sparsity']:.4f}  "
                     f"unique/kernel max {s['unique_values_per_kernel']['max']}  float32 gzip {s['gzip_bytes']:,} B")
    lines += [f"prune+cluster+QAT int8         {final_int8['size_bytes']:,} B, gzip {final_int8['gzip_bytes']:,} B "
              f"({res['gzip_ratio_vs_float32']:.1f}x smaller gzip), acc {100 * final_int8['accuracy']:.2f}% "
              f"(drop {res['compressed_int8_drop_points']:.2f} pt)",
              f"  in the .tflite: {json.dumps(sp)}",
              f"QAT-only int8 acc               {100 * res['qat_int8_accuracy']:.2f}% (drop {res['qat_int8_drop_points']:.2f} pt)",
              f"PTQ int8 acc                    {100 * res['ptq_int8_accuracy']:.2f}% (drop {res['ptq_int8_drop_points']:.2f} pt)"]
    lines += [f"  QAT-only {name:<12} {v['steps']}: int8 {100 * v['int8_accuracy']:.2f}% (drop {v['drop_points']:.2f} pt)"
              for name, v in res["qat_lr_sweep"].items()]
    text = "\n".join(lines) + "\n"
    (RESULTS / "compress_fashion_mnist.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
