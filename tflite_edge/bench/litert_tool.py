"""Host timings by LiteRT's own benchmark tool, `ai_edge_litert.tools.benchmark_litert_model`.

What the pinned wheel (ai-edge-litert 2.3.0) ships under that name is a Python script, not a C++
binary: it loads the model with `CompiledModel` (XNNPACK CPU accelerator), times
`run_by_name` in a Python loop with `time.perf_counter`, and prints a `BENCHMARK RESULTS` block in
milliseconds rounded to 0.01 ms (6% of a 0.17 ms model). Its flags: --num_threads, --num_runs,
--warmup_runs (a count only: no --warmup_min_secs, --min_secs, no memory report), --result_json,
--signature, --use_gpu/--use_npu.

This module runs that script unchanged, as `python -m tflite_edge.bench.litert_tool TOOL_FLAGS`:
before calling the tool's `main()` it wraps the tool's own `percentile` function, which the tool
calls with its sorted list of timed invocations, to keep those samples at full resolution; after
it, it prints one `@@TFLITE_EDGE {...}` line with the samples, the process's peak memory and CPU
figures. The tool's output above that line is exactly what the tool prints, and
`parse.summarize_benchmark` reads it (the same parser as for Android's `benchmark_model`).

    python -m tflite_edge.bench.litert_tool --model=m.tflite --num_threads=1 --num_runs=50 --warmup_runs=5
"""
from __future__ import annotations

import importlib.util
import json
import math
import statistics
import sys
import time

TOOL_MODULE = "ai_edge_litert.tools.benchmark_litert_model"
MARK = "@@TFLITE_EDGE"


def tool_missing() -> str | None:
    """Why the tool cannot run here (None when it can): older wheels and tflite_runtime lack it."""
    try:
        found = importlib.util.find_spec(TOOL_MODULE) is not None
    except ImportError:  # ai_edge_litert itself absent
        found = False
    return None if found else f"{TOOL_MODULE} is not installed here (the pinned ai-edge-litert ships it)"


def tool_argv(model_path, threads: int, runs: int, warmup_runs: int) -> list:
    """The tool's own flags for one measurement (the same flags `python -m TOOL` takes)."""
    return [f"--model={model_path}", f"--num_threads={int(threads)}", f"--num_runs={int(runs)}",
            f"--warmup_runs={int(warmup_runs)}"]


def warmup_runs_for(warmup: int, warmup_min_s: float, latency_ms: float | None) -> int:
    """The tool warms up by count only: `warmup`, or enough invocations of about `latency_ms` to
    last `warmup_min_s` seconds (as benchmark_model's --warmup_min_secs), whichever is more.

    >>> warmup_runs_for(5, 0.5, 0.1)
    5000
    """
    if not warmup_min_s or not latency_ms or latency_ms <= 0:
        return int(warmup)
    return max(int(warmup), math.ceil(warmup_min_s * 1000.0 / latency_ms))


def extra_fields(text: str) -> dict | None:
    """The launcher's `@@TFLITE_EDGE {...}` line (samples, memory, CPU), or None when absent."""
    for line in reversed(text.splitlines()):
        if line.startswith(MARK + " "):
            try:
                return json.loads(line[len(MARK) + 1:])
            except json.JSONDecodeError:
                return None
    return None


def main(argv=None) -> int:
    """Run the tool's `main()` with `argv` as its command line, then print the extra figures."""
    from .host_worker import rss_mb, steal_percent, steal_ticks

    argv = list(sys.argv[1:] if argv is None else argv)
    tool = importlib.import_module(TOOL_MODULE)
    tool._import_litert()  # the runtime's modules load before the baseline memory figure
    samples: list = []
    original = tool.percentile

    def percentile(sorted_data, p):  # the tool passes its sorted timed invocations (ms)
        if not samples:
            samples.extend(float(t) for t in sorted_data)
        return original(sorted_data, p)

    tool.percentile = percentile
    base_mb, steal0, cpu0, wall0 = rss_mb(), steal_ticks(), time.process_time(), time.perf_counter()
    sys.argv = [tool.__file__, *argv]
    tool.main()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sys.stdout.flush()
    peak = rss_mb()
    print(MARK + " " + json.dumps({
        "samples_ms": samples,
        "samples_median_ms": statistics.median(samples) if samples else None,
        "peak_memory_mb": peak, "model_memory_mb": max(0.0, peak - base_mb),
        # over the tool's whole run (model load, warm-up, timed runs), not the timed runs alone
        "cpu_busy": round(cpu / wall, 3) if wall > 0 else None,
        "steal_percent": steal_percent(steal0, steal_ticks()),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
