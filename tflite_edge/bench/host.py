"""Host benchmark: each measurement in fresh processes, timed by one of two engines.

`benchmark_litert_model` (the default): LiteRT's own tool from the ai-edge-litert wheel, run through
`bench/litert_tool.py`, so host figures are the runtime's tool's figures. `python_worker`: our
loop, `bench/host_worker.py` (also what SSH boards run). When the tool cannot produce a figure
(not installed, a model it rejects such as sparse int8, thread pinning asked for), the worker
times the row instead and the row says so: `engine` and `engine_fallback` (why).

Why the tool and the worker agree (issue 16): both time one call per invocation in a Python loop
on the same XNNPACK; in one process, alternating blocks of 10 calls, Interpreter.invoke was 0-3%
faster than the tool's CompiledModel.run_by_name on every model tried, int8 included
(`benchmarks/host_vs_litert_tool.py --same-process`). Differences between separate runs come from
the host's slow spells.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from ..errors import EdgeError, UserInputError
from . import litert_tool, parse
from .record import BenchRecord, latency_stats
from .options import HOST_ENGINES, LITERT_TOOL, PYTHON_WORKER, WARMUP_MIN_S


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
                   pin_threads: bool = False, warmup_min_s: float = WARMUP_MIN_S, processes: int = 1,
                   engine: str = LITERT_TOOL) -> dict:
    """Latency percentiles, init and first-inference time, peak memory of one model on this host.

    `engine`: `benchmark_litert_model` (LiteRT's tool; falls back to the worker, saying why, where
    it cannot time the model) or `python_worker`. `processes` > 1 spreads the `runs` timed
    invocations over that many fresh processes (at most one per run) and pools them. The timed
    window of one process of a 0.1 ms model is a few tens of milliseconds, so one short slow spell
    on a shared host (9-30% slower, from outside the process) covers all of it; samples from several
    processes seconds apart outvote that spell, and fresh processes also vary memory layout and
    thread placement.

    >>> benchmark_host("m.tflite", threads=1, runs=200, processes=4)["engine"]  # doctest: +SKIP
    'benchmark_litert_model'
    """
    check_tflite_file(model_path)
    if engine not in HOST_ENGINES:
        raise UserInputError(f"host engine {engine!r}: expected one of {', '.join(HOST_ENGINES)}")
    shares = process_shares(runs, processes)
    fallback = None
    if engine == LITERT_TOOL:
        fallback = litert_tool.tool_missing() or (
            "thread pinning asked for: the tool has no affinity option" if pin_threads else None)
        if fallback is None:
            try:
                return _time_with_tool(model_path, threads, shares, warmup, warmup_min_s, timeout_s).to_dict()
            except ToolCannotTime as e:
                fallback = str(e)
    if len(shares) == 1:
        result = _run_worker(model_path, threads, runs, warmup, warmup_min_s, pin_threads, timeout_s)
    else:
        result = pool_processes([_run_worker(model_path, threads, n, warmup, warmup_min_s, pin_threads, timeout_s,
                                             samples=True) for n in shares])
    result.update(target="host", engine=PYTHON_WORKER)
    if fallback:
        result.update(engine_fallback=fallback)
    return result.to_dict()


class ToolCannotTime(Exception):
    """`benchmark_litert_model` gave no figure for this model; the message says why."""


def _time_with_tool(model_path, threads: int, shares: list, warmup: int, warmup_min_s: float,
                    timeout_s: float) -> BenchRecord:
    """One record from the tool, run once per entry of `shares` (timed runs per process).

    The tool warms up by count only. For `warmup_min_s`, a first short run of the tool gives the
    model's invocation time, and every timed process then warms up that many seconds' worth."""
    estimate = None
    if warmup_min_s:
        probe = _run_tool(model_path, threads, max(1, warmup), 1, timeout_s)
        estimate = probe["latency_ms_p50"]
    warmup_runs = litert_tool.warmup_runs_for(warmup, warmup_min_s, estimate)
    parts = [_run_tool(model_path, threads, n, warmup_runs, timeout_s) for n in shares]
    result = parts[0] if len(parts) == 1 else pool_processes(parts)
    result.pop("samples_ms")
    return result.update(target="host", engine=LITERT_TOOL, threads=threads, warmup=warmup,
                         warmup_min_s=warmup_min_s, delegate="xnnpack", thread_pinning="none")


def _run_tool(model_path, threads: int, runs: int, warmup_runs: int, timeout_s: float) -> BenchRecord:
    """One process of the tool: its summary (parse.summarize_benchmark) with full-resolution
    percentiles from its own samples, the process's memory and CPU figures."""
    cmd = [sys.executable, "-m", "tflite_edge.bench.litert_tool",
           *litert_tool.tool_argv(model_path, threads, runs, warmup_runs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{model_path}: benchmark took over {timeout_s:.0f}s; lower --runs") from None
    summary = parse.summarize_benchmark(proc.stdout + "\n" + proc.stderr, "xnnpack")
    extra = litert_tool.extra_fields(proc.stdout)
    if proc.returncode < 0:  # CompiledModel can crash on a damaged file (SIGSEGV seen on a truncated model)
        raise ToolCannotTime(f"benchmark_litert_model was killed by signal {_signal_name(-proc.returncode)}")
    if summary["error"] or proc.returncode != 0:
        raise ToolCannotTime(summary["error"] or f"benchmark_litert_model exited with status {proc.returncode}")
    samples = (extra or {}).get("samples_ms") or []
    # The samples must be the ones the tool summarised: its count and its rounded median.
    if len(samples) != summary["runs_measured"] or abs(statistics.median(samples) - summary["latency_ms_p50"]) > 0.0051:
        raise ToolCannotTime("could not read the tool's timed invocations (a changed benchmark_litert_model?)")
    return BenchRecord(
        **latency_stats(samples), runs=len(samples), warmup_invocations=summary["warmup_invocations"],
        samples_ms=samples, init_ms=summary["init_ms"], first_inference_ms=summary["first_inference_ms"],
        **{key: extra.get(key) for key in ("peak_memory_mb", "model_memory_mb", "cpu_busy", "steal_percent")},
    ).update(fully_accelerated=summary["fully_accelerated"])


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def process_shares(runs: int, processes: int) -> list:
    """Timed runs per process: `runs` split as evenly as possible over at most `runs` processes."""
    if processes < 1 or runs < 1:
        raise UserInputError(f"processes={processes}, runs={runs}: both must be >= 1")
    processes = min(processes, runs)
    return [runs // processes + (i < runs % processes) for i in range(processes)]


def pool_processes(parts: list) -> BenchRecord:
    """One record from several processes' records (or their dicts): latency over all their
    invocations together."""
    parts = [p if isinstance(p, BenchRecord) else BenchRecord.from_dict(p) for p in parts]
    samples = [t for p in parts for t in p.pop("samples_ms")]
    pooled = BenchRecord.from_dict(parts[0].to_dict())
    return pooled.update(
        **latency_stats(samples),
        runs=len(samples), processes=len(parts),
        warmup_invocations=sum(p["warmup_invocations"] for p in parts),
        latency_ms_p50_by_process=[p["latency_ms_p50"] for p in parts],
        # one-off costs: the typical process; memory: the worst one
        init_ms=_median_known(p["init_ms"] for p in parts),
        first_inference_ms=_median_known(p["first_inference_ms"] for p in parts),
        peak_memory_mb=max(p["peak_memory_mb"] for p in parts),
        model_memory_mb=max(p["model_memory_mb"] for p in parts),
        # CPU use: the least busy process (a starved one shows); steal: the worst one
        cpu_busy_by_process=[p.get("cpu_busy") for p in parts],
        cpu_busy=min((p["cpu_busy"] for p in parts if p.get("cpu_busy") is not None), default=None),
        steal_percent=max((p["steal_percent"] for p in parts if p.get("steal_percent") is not None), default=None),
    )


def _median_known(values):
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _run_worker(model_path, threads: int, runs: int, warmup: int, warmup_min_s: float, pin_threads: bool,
                timeout_s: float, samples: bool = False) -> BenchRecord:
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
    return BenchRecord.from_dict(result)
