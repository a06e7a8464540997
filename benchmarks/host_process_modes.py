"""How often a fresh benchmark process lands in a slower mode: N one-process measurements in a row.

    .venv/bin/python benchmarks/host_process_modes.py MODEL.tflite [--n 30] [--threads 1]

Prints each process's p50 (200 invocations, 0.5 s warm-up), its CPU use and steal while timing,
and counts those more than 3% above the median of all N. benchmarks/host_time_windows.py tells a
slow process from a slow moment.
"""
from __future__ import annotations

import argparse
import os
import statistics

from tflite_edge.bench.host import benchmark_host


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    p50s = []
    print("p50_ms  cpu_busy  steal_%   (cpu_busy: CPU-seconds per second while timing; ~threads when all ran)")
    for _ in range(args.n):
        r = benchmark_host(args.model, threads=args.threads, runs=200, warmup=20)
        p50s.append(r["latency_ms_p50"])
        print(f"{p50s[-1]:.4f}  {r['cpu_busy']:.2f}  {r['steal_percent']}", flush=True)
    med = statistics.median(p50s)
    slow = [i for i, v in enumerate(p50s) if v > 1.03 * med]
    print(f"median {med:.4f} ms; {len(slow)} of {len(p50s)} processes > 3% slower "
          f"(positions {slow}, worst +{100 * (max(p50s) / med - 1):.1f}%)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
