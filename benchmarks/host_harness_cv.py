"""Repeatability of the host harness: coefficient of variation of p50 over 5 runs of 200 invocations.

    .venv/bin/python benchmarks/host_harness_cv.py MODEL.tflite [MODEL.tflite ...]

Each repetition is a separate `benchmark_host` call (a fresh process), as a user would run it.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from tflite_edge.bench.host import benchmark_host


def main(models):
    print(f"{'model':<40} thr  p50_ms (5 runs x 200)                         cv_percent")
    for model in map(Path, models):
        for threads in (1, 2):
            p50s = [benchmark_host(model, threads=threads, runs=200, warmup=20)["latency_ms_p50"] for _ in range(5)]
            cv = 100 * statistics.stdev(p50s) / statistics.mean(p50s)
            print(f"{model.name:<40} {threads:>3}  {' '.join(f'{v:.4f}' for v in p50s):<45} {cv:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
