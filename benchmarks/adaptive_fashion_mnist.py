"""Issue 17's figure: the int8 early-exit cascade against the full int8 model, Fashion-MNIST.

    .venv/bin/python benchmarks/adaptive_fashion_mnist.py [--out runs/fashion_mnist_adaptive]
                                                         [--rounds 5] [--threads 1] [--set KEY=VALUE]

1. Runs (or resumes) `recipes/fashion_mnist_adaptive.yaml` (MobileNetV2 1.0, exits after stride_4 and
   stride_8, thresholds auto on the validation split) into --out: its report gives the cascade's
   test accuracy and exit rates and the full int8 model's accuracy, and the benchmark stage's
   per-segment and full-model timings (one pass each, LiteRT's benchmark tool).
2. Times them again side by side: --rounds rounds, each timing the full int8 model and then every
   int8 segment with `tflite-edge bench` (the CLI a user runs: the same engine as the benchmark
   stage). Per round: the cascade's mean per-image latency = sum over exits of exit rate x the
   segments that exit ran (their means), and the full model's mean; the ratio full / cascade.
Printed: accuracies and drop, exit rates, per-round and median latencies and ratios, and whether
the issue's targets hold (ratio >= 1.5, accuracy within 0.5 point of the full int8 model).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "fashion_mnist_adaptive.yaml"


def bench_mean(model: Path, threads: int, runs: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "bench", str(model), "--target", "host",
                           "--threads", str(threads), "--runs", str(runs), "--json"],
                          capture_output=True, text=True, check=True)
    row = json.loads(proc.stdout)
    return {"mean": row["latency_ms_mean"], "p50": row["latency_ms_p50"], "engine": row.get("engine")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "fashion_mnist_adaptive"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeat)")
    args = ap.parse_args()
    out = Path(args.out)
    overrides = [x for kv in args.set for x in ("--set", kv)]
    subprocess.run([sys.executable, "-m", "tflite_edge.cli", "run", str(RECIPE), "--out", str(out), *overrides],
                   check=False)
    report = json.loads((out / "report.json").read_text())
    rows = {c["format"]: c for c in report["adaptive"]["cascades"]}
    row = rows["int8"]
    stage = row["latency"]["host"]
    print(f"run: {out}  recipe: {RECIPE.relative_to(ROOT)} {' '.join(overrides)}")
    print(f"Keras: final head {100 * rows['keras']['full_accuracy']:.2f}%  exits "
          f"{', '.join(f'{100 * a:.2f}%' for a in rows['keras']['exit_accuracy'])}")
    print(f"int8 thresholds {row['thresholds']} ({report['adaptive']['threshold']}, validation: "
          f"{json.dumps(json.loads((out / row['cascade']).read_text())['thresholds'].get('validation', {}))})")
    print(f"int8 test accuracy: cascade {100 * row['accuracy']:.2f}%  full model {100 * row['full_accuracy']:.2f}%  "
          f"drop {100 * row['accuracy_drop']:+.2f} pt  agreement {100 * row['agreement_with_full']:.2f}%")
    print(f"exit rates: {' / '.join(f'{100 * r:.1f}%' for r in row['exit_rates'])}  (exit accuracy "
          f"{', '.join(f'{100 * a:.2f}%' for a in row['exit_accuracy'])})")
    print(f"benchmark stage ({stage.get('engine')}, {stage.get('threads')} thread): segments "
          f"{[round(v, 4) for v in stage['segment_ms_mean']]} ms, cascade mean {stage['latency_ms_mean']:.4f} "
          f"p50 {stage['latency_ms_p50']:.4f} p90 {stage['latency_ms_p90']:.4f} ms, full model "
          f"{stage['full_model_ms_mean']:.4f} ms, ratio {stage['speedup_mean']:.3f}")

    full = out / next(a["path"] for a in report["artifacts"] if a["format"] == "int8")
    segments = [out / Path(row["cascade"]).parent / s["path"]
                for s in json.loads((out / row["cascade"]).read_text())["segments"]]
    cum_rates = row["exit_rates"]
    rounds = []
    for r in range(args.rounds):
        f = bench_mean(full, args.threads, args.runs)
        segs = [bench_mean(s, args.threads, args.runs) for s in segments]
        seg_ms = [s["mean"] for s in segs]
        cascade_ms = sum(rate * sum(seg_ms[:k + 1]) for k, rate in enumerate(cum_rates))
        rounds.append({"full_ms": f["mean"], "segment_ms": seg_ms, "cascade_ms": cascade_ms,
                       "ratio": f["mean"] / cascade_ms, "engine": f["engine"]})
        print(f"round {r + 1}: full {f['mean']:.4f} ms  segments {[round(v, 4) for v in seg_ms]}  cascade "
              f"{cascade_ms:.4f} ms  ratio {rounds[-1]['ratio']:.3f}  ({f['engine']})")
    ratio = statistics.median(x["ratio"] for x in rounds)
    full_ms = statistics.median(x["full_ms"] for x in rounds)
    cascade_ms = statistics.median(x["cascade_ms"] for x in rounds)
    drop = row["accuracy_drop"]
    print(f"median over {args.rounds} rounds: full {full_ms:.4f} ms, cascade {cascade_ms:.4f} ms, "
          f"ratio {ratio:.3f} (target >= 1.5: {'met' if ratio >= 1.5 else 'NOT met'}); accuracy drop "
          f"{100 * drop:+.2f} pt (target <= 0.5: {'met' if drop <= 0.005 else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"cascade": row, "rounds": rounds, "median_ratio": ratio,
                                               "median_full_ms": full_ms, "median_cascade_ms": cascade_ms},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
