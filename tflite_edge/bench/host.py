"""Host benchmark: each measurement in a fresh `host_worker` subprocess (see its docstring)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from ..errors import EdgeError, UserInputError
from . import WARMUP_MIN_S
from .host_worker import latency_stats


def check_tflite_file(path: Path) -> None:
    """Refuse files that are not TFLite flatbuffers before any interpreter touches them."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: file not found")
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise UserInputError(f"{path}: not a TFLite model (no TFL3 identifier); convert it with "
                             "`tflite-edge convert`")


def benchmark_host(model_path, threads: int = 1, runs: int = 50, warmup: int = 5, timeout_s: float = 600,
                   pin_threads: bool = False, warmup_min_s: float = WARMUP_MIN_S, processes: int = 1) -> dict:
    """Latency percentiles, init and first-inference time, peak memory of one model on this host.

    `processes` > 1 spreads the `runs` timed invocations over that many fresh processes (at most
    one per run) and pools them. The timed window of one process of a 0.1 ms model is a few tens
    of milliseconds, so one short slow spell on a shared host (9-30% slower, from outside the
    process) covers all of it; samples from several processes seconds apart outvote that spell, and
    fresh processes also vary memory layout and thread placement."""
    check_tflite_file(model_path)
    shares = process_shares(runs, processes)
    if len(shares) == 1:
        result = _run_worker(model_path, threads, runs, warmup, warmup_min_s, pin_threads, timeout_s)
    else:
        result = pool_processes([_run_worker(model_path, threads, n, warmup, warmup_min_s, pin_threads, timeout_s,
                                             samples=True) for n in shares])
    result["target"] = "host"
    return result


def process_shares(runs: int, processes: int) -> list:
    """Timed runs per process: `runs` split as evenly as possible over at most `runs` processes."""
    if processes < 1 or runs < 1:
        raise UserInputError(f"processes={processes}, runs={runs}: both must be >= 1")
    processes = min(processes, runs)
    return [runs // processes + (i < runs % processes) for i in range(processes)]


def pool_processes(parts: list) -> dict:
    """One record from several processes' records: latency over all their invocations together."""
    samples = [t for p in parts for t in p.pop("samples_ms")]
    pooled = dict(parts[0])
    pooled.update(latency_stats(samples))
    pooled.update({
        "runs": len(samples), "processes": len(parts),
        "warmup_invocations": sum(p["warmup_invocations"] for p in parts),
        "latency_ms_p50_by_process": [p["latency_ms_p50"] for p in parts],
        # one-off costs: the typical process; memory: the worst one
        "init_ms": statistics.median(p["init_ms"] for p in parts),
        "first_inference_ms": statistics.median(p["first_inference_ms"] for p in parts),
        "peak_memory_mb": max(p["peak_memory_mb"] for p in parts),
        "model_memory_mb": max(p["model_memory_mb"] for p in parts),
        # CPU use: the least busy process (a starved one shows); steal: the worst one
        "cpu_busy_by_process": [p.get("cpu_busy") for p in parts],
        "cpu_busy": min((p["cpu_busy"] for p in parts if p.get("cpu_busy") is not None), default=None),
        "steal_percent": max((p["steal_percent"] for p in parts if p.get("steal_percent") is not None), default=None),
    })
    return pooled


def _run_worker(model_path, threads: int, runs: int, warmup: int, warmup_min_s: float, pin_threads: bool,
                timeout_s: float, samples: bool = False) -> dict:
    cmd = [sys.executable, "-m", "tflite_edge.bench.host_worker", "--model", str(model_path),
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup),
           "--warmup-min-secs", repr(float(warmup_min_s))]
    if pin_threads:
        cmd.append("--pin-threads")
    if samples:
        cmd.append("--samples")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{model_path}: benchmark took over {timeout_s:.0f}s; lower --runs") from None
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    if proc.returncode == 2 and result and "error" in result:
        raise UserInputError(f"{model_path}: the interpreter cannot load this model ({result['error']}); "
                             "the file may be truncated or use unsupported ops")
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EdgeError(f"{model_path}: benchmark process failed (exit {proc.returncode}): {tail[:200]}")
    return result
