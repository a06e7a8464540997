"""Benchmark one .tflite in this process and print one JSON object.

Run in a fresh subprocess by bench/host.py (clean peak-memory numbers; a crashing model cannot take
the run down) and on SSH boards (where tflite-edge is installed), so it imports only the standard
library, numpy, tflite_edge.runtime (an interpreter: ai_edge_litert, or tflite_runtime where
that is what a board has) and the record it prints (tflite_edge.bench.record).

    python -m tflite_edge.bench.host_worker --model m.tflite --threads 1 --runs 50 --warmup 5
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time

import numpy as np

from tflite_edge.bench.record import BenchRecord, latency_stats
from tflite_edge.runtime import make_interpreter, predict_classes, random_inputs


def eval_accuracy(model_path: str, eval_set: str, threads: int, batch: int = 64) -> dict:
    """Top-1 accuracy on an .npz evaluation set {x: preprocessed float32 images, y: labels}."""
    with np.load(eval_set) as data:
        x, y = data["x"], data["y"]
    interp, _ = make_interpreter(model_path, threads)
    pred = predict_classes(interp, (x[i:i + batch] for i in range(0, len(x), batch)), model_path, threads)
    return {"accuracy": float(np.mean(pred == y)), "eval_samples": int(len(y))}


def rss_mb() -> float:
    """This process's peak resident memory so far (MB).

    Linux: VmHWM of /proc/self/status, which belongs to the address space and starts afresh at
    exec. Not ru_maxrss: getrusage keeps it across execve, so a worker started by a process holding
    600 MB of TensorFlow reported 600 MB of peak memory and 0 MB for the model."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def steal_ticks():
    """(steal, total) jiffies of all CPUs from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7], sum(fields)) if len(fields) > 7 else None


def steal_percent(before, after):
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100.0 * (after[0] - before[0]) / (after[1] - before[1]), 2)


def time_invocations(interp, runs: int, warmup: int, warmup_min_s: float = 0.0, samples: bool = False) -> dict:
    """First-inference time, then untimed invokes (at least `warmup` of them and at least
    `warmup_min_s` seconds' worth), then `runs` timed invokes (inputs already set).
    `samples`: also return every timed invocation (`samples_ms`), for pooling across processes."""
    t0 = time.perf_counter_ns()
    interp.invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    warm_until = time.perf_counter_ns() + int(warmup_min_s * 1e9)
    done = 0
    while done < warmup or time.perf_counter_ns() < warm_until:
        interp.invoke()
        done += 1
    times = np.empty(runs, np.float64)
    cpu0, steal0, wall0 = time.process_time(), steal_ticks(), time.perf_counter()  # all threads' CPU time
    for i in range(runs):
        t0 = time.perf_counter_ns()
        interp.invoke()
        times[i] = (time.perf_counter_ns() - t0) / 1e6
    cpu1, steal1, wall = time.process_time(), steal_ticks(), time.perf_counter() - wall0
    return {
        "runs": runs, "warmup": warmup, "warmup_invocations": done, "warmup_min_s": warmup_min_s,
        **latency_stats(times), "first_inference_ms": first_ms,
        # Diagnostics for shared and virtual machines: CPU-seconds per second this process used while
        # timing (about `threads` when every thread ran), and the share of the CPUs' time the
        # hypervisor gave to others (Linux /proc/stat "steal"; None elsewhere).
        "cpu_busy": round((cpu1 - cpu0) / wall, 3) if wall > 0 else None,
        "steal_percent": steal_percent(steal0, steal1),
        **({"samples_ms": [round(float(t), 6) for t in times]} if samples else {}),
    }


def _thread_ids() -> set:
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:  # not Linux
        return set()


def pin_threads(pool_tids) -> str:
    """Put this (the calling) thread and each interpreter pool thread on its own CPU (1 thread: the
    caller alone is pinned, so the OS cannot migrate it mid-measurement).

    With 2 threads on a 2-core host the OS sometimes leaves XNNPACK's worker on the caller's core
    for the whole process, and the p50 lands in one of two modes 50% apart. Linux only; a no-op
    ('none') where affinity cannot be set or there are fewer CPUs than threads."""
    if not hasattr(os, "sched_setaffinity"):
        return "none"
    cpus = sorted(os.sched_getaffinity(0))
    tids = sorted(int(t) for t in pool_tids)
    if len(tids) + 1 > len(cpus):
        return "none"
    try:
        os.sched_setaffinity(threading.get_native_id(), {cpus[0]})
        for cpu, tid in zip(cpus[1:], tids):
            os.sched_setaffinity(tid, {cpu})
    except OSError:
        return "none"
    return "spread"


def measure(model_path: str, threads: int, runs: int, warmup: int, pin: bool = False,
            warmup_min_s: float = 0.0, samples: bool = False) -> dict:
    base_mb = rss_mb()
    before = _thread_ids()
    t0 = time.perf_counter_ns()
    interp, delegate = make_interpreter(model_path, threads)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    for d, value in zip(interp.get_input_details(), random_inputs(interp)):
        interp.set_tensor(d["index"], value)
    pinning = "none"
    if pin:
        interp.invoke()  # the pool's threads exist once the first invoke ran
        pinning = pin_threads(_thread_ids() - before)
    timing = time_invocations(interp, runs, warmup, warmup_min_s, samples)
    peak_mb = rss_mb()
    return BenchRecord(threads=threads, delegate=delegate, **timing, init_ms=init_ms, peak_memory_mb=peak_mb,
                       model_memory_mb=max(0.0, peak_mb - base_mb), thread_pinning=pinning).to_dict()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--eval-set", help=".npz with preprocessed images x and labels y: also report accuracy")
    ap.add_argument("--warmup-min-secs", type=float, default=0.0,
                    help="keep warming up until this many seconds passed (as benchmark_model's --warmup_min_secs)")
    ap.add_argument("--samples", action="store_true", help="also print every timed invocation (samples_ms)")
    ap.add_argument("--pin-threads", action="store_true", help="each thread on its own CPU (Linux)")
    a = ap.parse_args(argv)
    try:
        result = measure(a.model, a.threads, a.runs, a.warmup, a.pin_threads, a.warmup_min_secs, a.samples)
        if a.eval_set:
            result.update(eval_accuracy(a.model, a.eval_set, a.threads))
    except (RuntimeError, ValueError, OSError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(json.dumps({"error": msg}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
