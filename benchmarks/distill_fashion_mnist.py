"""Distillation on Fashion-MNIST: a tiny student trained with and without a wider teacher, 3 seeds.

    python benchmarks/distill_fashion_mnist.py [--out runs/bench_distill] [--seeds 0 1 2]

The teacher is trained once (a plain run) and given to the distilled runs as `teacher.sources[0].path`
(loaded in safe mode). Each student run uses the same data, epochs and seed as its baseline; only
the teacher differs. Writes benchmarks/results/distill_fashion_mnist.json (and .txt).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

DATA = {"dataset": "fashion_mnist", "path": "/usr/share/datasets/fashion-mnist", "train_samples": 5000,
        "test_samples": None, "batch_size": 64, "augment": {"flip": True, "translate": 0.05}}
TEACHER = {"name": "plain_cnn", "width": 3.0}
STUDENT = {"name": "plain_cnn", "width": 0.25}
COMMON = {"convert": {"formats": ["float32"]}, "benchmark": {"targets": ["host"], "runs": 5, "warmup": 1}}


def run(recipe: dict, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    # resumes a run directory of the same recipe (an interrupted benchmark loses one stage);
    # --fresh deletes the directories first
    cmd = [sys.executable, "-m", "tflite_edge.cli", "run", str(path), "--out", str(out)]
    manifest = out / "manifest.json"
    if manifest.exists():  # resume at the first unfinished stage even if defaults moved on
        done = json.loads(manifest.read_text())["stages"]
        stages = ["build", "train", "optimize", "convert", "evaluate", "benchmark", "report"]
        first = next((st for st in stages if not done.get(st, {}).get("done")), None)
        if first is None:
            return json.loads((out / "report.json").read_text())
        cmd += ["--from", first]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    (out / "bench_stdout.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode not in (0, 3):
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"run failed ({proc.returncode})")
    return json.loads((out / "report.json").read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_distill"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--teacher-epochs", type=int, default=30)
    ap.add_argument("--student-epochs", type=int, default=10)
    ap.add_argument("--teacher-width", type=float, default=TEACHER["width"])
    ap.add_argument("--student-width", type=float, default=STUDENT["width"])
    ap.add_argument("--teacher-train-samples", type=int, default=DATA["train_samples"],
                    help="images the teacher is trained on (the students always get the first "
                         f"{DATA['train_samples']}); more makes a pretrained-teacher setting")
    ap.add_argument("--temperature", type=float, default=4.0)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--fresh", action="store_true", help="delete earlier run directories first")
    args = ap.parse_args()
    base = Path(args.out)
    if args.fresh:
        shutil.rmtree(base, ignore_errors=True)
    t0 = time.monotonic()
    TEACHER["width"], STUDENT["width"] = args.teacher_width, args.student_width
    teacher = run({"name": "teacher", "seed": 100, "data": {**DATA, "train_samples": args.teacher_train_samples},
                   "model": TEACHER, "train": {"epochs": args.teacher_epochs, "learning_rate": 0.002,
                                               "schedule": "cosine", "tensorboard": False},
                   **COMMON}, base / "teacher")
    teacher_path = str((base / "teacher" / "checkpoints" / "trained.keras").resolve())
    train = {"epochs": args.student_epochs, "learning_rate": 0.003, "schedule": "cosine", "tensorboard": False}
    rows = []
    for seed in args.seeds:
        plain = run({"name": "student", "seed": seed, "data": DATA, "model": STUDENT, "train": train,
                     **COMMON}, base / f"plain_s{seed}")
        dist = run({"name": "student_kd", "seed": seed, "data": DATA, "model": STUDENT, "train": train,
                    "teacher": {"sources": [{"path": teacher_path}], "temperature": args.temperature,
                                "alpha": args.alpha, "beta": 1.0 - args.alpha}, **COMMON}, base / f"kd_s{seed}")
        rows.append({"seed": seed, "plain": plain["keras"]["accuracy"], "distilled": dist["keras"]["accuracy"]})
        print(rows[-1], flush=True)
    mean_plain = statistics.mean(r["plain"] for r in rows)
    mean_kd = statistics.mean(r["distilled"] for r in rows)
    res = {"args": vars(args), "data": DATA, "teacher": TEACHER, "student": STUDENT, "train": train,
           "teacher_accuracy": teacher["keras"]["accuracy"], "per_seed": rows,
           "mean_plain": mean_plain, "mean_distilled": mean_kd,
           "gain_points": 100 * (mean_kd - mean_plain), "seconds": time.monotonic() - t0,
           "environment": teacher["environment"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "distill_fashion_mnist.json").write_text(json.dumps(res, indent=2) + "\n")
    text = (f"teacher plain_cnn w{TEACHER['width']} ({args.teacher_train_samples} images, {args.teacher_epochs} "
            f"epochs): {100 * res['teacher_accuracy']:.2f}%\n"
            f"student plain_cnn w{STUDENT['width']} ({DATA['train_samples']} images, {args.student_epochs} epochs, "
            f"T {args.temperature}, alpha {args.alpha})\n"
            + "".join(f"seed {r['seed']}: student {100 * r['plain']:.2f}%  distilled {100 * r['distilled']:.2f}%\n"
                      for r in rows)
            + f"mean: student {100 * mean_plain:.2f}%  distilled {100 * mean_kd:.2f}%  "
              f"gain {res['gain_points']:+.2f} points\n")
    (RESULTS / "distill_fashion_mnist.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
