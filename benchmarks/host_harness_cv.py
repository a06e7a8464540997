"""Repeatability of the host harness: coefficient of variation of p50 over 5 runs of 200 invocations.

    .venv/bin/python benchmarks/host_harness_cv.py [--pin both|off|on] [--warm-secs 0,0.5] [--processes 1,4] MODEL...

Each repetition is a separate `benchmark_host` call (a fresh process), as a user would run it.
`--pin both` measures every model without and with `pin_threads` (each thread on its own CPU);
`--warm-secs 0,0.5` with each minimum warm-up duration (the harness default is 0.5 s);
`--processes 1,4` with the 200 invocations in one process and spread over four (pooled).
"""
from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from tflite_edge.bench import WARMUP_MIN_S
from tflite_edge.bench.host import benchmark_host


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--pin", choices=["off", "on", "both"], default="off")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--processes", default="1", help="comma-separated process counts per run")
    ap.add_argument("--warm-secs", default=None, help="comma-separated warmup_min_s values (default: the harness's)")
    args = ap.parse_args()
    pins = {"off": [False], "on": [True], "both": [False, True]}[args.pin]
    warms = [float(w) for w in args.warm_secs.split(",")] if args.warm_secs else [WARMUP_MIN_S]
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'model':<40} thr pin warm_s proc  p50_ms (5 runs x 200)                         cv_percent")
    for model in map(Path, args.models):
        for threads in (int(t) for t in args.threads.split(",")):
            for pin in pins:
                for warm in warms:
                    for procs in (int(p) for p in args.processes.split(",")):
                        p50s = [benchmark_host(model, threads=threads, runs=200, warmup=20, pin_threads=pin,
                                               warmup_min_s=warm, processes=procs)["latency_ms_p50"]
                                for _ in range(5)]
                        cv = 100 * statistics.stdev(p50s) / statistics.mean(p50s)
                        print(f"{model.name:<40} {threads:>3} {'on' if pin else 'off':>3} {warm:>6.2f} {procs:>4}  "
                              f"{' '.join(f'{v:.4f}' for v in p50s):<45} {cv:.2f}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
