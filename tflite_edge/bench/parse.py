"""Parsers for what benchmark and device tools print: LiteRT/TFLite `benchmark_model` (Android),
the `ai_edge_litert.tools.benchmark_litert_model` script of the ai-edge-litert wheel (host),
`adb devices -l`, `getprop`. `summarize_benchmark` reads either benchmark tool's output.

Every format here is pinned by a golden file under `tests/golden/` (its README says where each one
comes from). The parsers are pure functions over text, so they run without a device or TensorFlow.

    >>> parse_stat_line("count=50 first=74456 curr=74516 min=73909 max=75323 avg=74481.6 std=268")["avg"]
    74481.6
"""

from __future__ import annotations

import re
from typing import Any

# benchmark_model logs through TFLITE_LOG ("INFO: ..."), the runtime through minimal logging
# ("VERBOSE: Replacing ..."), and the benchmark APK through logcat ("05-31 10:38:42.583  22206
# 22206 I tflite  : ..."); older builds print bare lines. Strip all of these before matching.
_LOGCAT_PREFIX = r"(?:\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+\S+\s*:\s?)"
_LEVEL_PREFIX = r"(?:(?:INFO|VERBOSE|WARNING|WARN|ERROR|DEBUG): )"
_PREFIX_RE = re.compile(rf"^{_LOGCAT_PREFIX}?{_LEVEL_PREFIX}?")

# C++ streams print doubles with 6 significant digits, so large values arrive as "2.95034e+06".
_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"

_TIMING_RE = re.compile(
    rf"Inference timings in us: Init: (?P<init>{_NUM}), First inference: (?P<first>{_NUM}), "
    rf"Warmup \(avg\): (?P<warmup>{_NUM}), Inference \(avg\): (?P<avg>{_NUM})"
)
_STAT_START_RE = re.compile(r"^count=\d+")
_STAT_PAIR_RE = re.compile(rf"(\w+)=({_NUM})")
_RUN_HEADER_RE = re.compile(r"^Running benchmark for at least (\d+) iterations")
# Old builds: max RSS ("Peak memory footprint"); newer builds: a delta from the tool's start,
# plus a sampled peak when --report_peak_memory_footprint=true.
_MEM_OLD_RE = re.compile(rf"^Peak memory footprint \(MB\): init=({_NUM}) overall=({_NUM})")
_MEM_DELTA_RE = re.compile(
    rf"^Memory footprint delta from the start of the tool \(MB\): init=({_NUM}) overall=({_NUM})"
)
_MEM_PEAK_RE = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring: ({_NUM})")
# Three generations of the runtime's partition line (core/subgraph.cc):
#   "Replacing 269 node(s) with delegate (X) node, yielding 13 partitions."
#   "Replacing 2975 node(s) with delegate (X) node, yielding 98 partitions for the whole graph."
#   "Replacing 49 out of 49 node(s) with delegate (X) node, yielding 1 partitions for subgraph 0."
_REPLACING_RE = re.compile(
    r"^Replacing (?P<n>\d+)(?: out of (?P<m>\d+))? node\(s\) with delegate \((?P<kernel>[^)]*)\) node, "
    r"yielding (?P<parts>\d+) partitions(?: for (?:subgraph (?P<sub>\d+)|the whole graph))?"
)
_APPLIED_FULL_RE = re.compile(
    r"^Explicitly applied (?P<name>.+?) delegate, and the model graph will be completely executed"
)
_APPLIED_PARTIAL_RE = re.compile(
    r"^Explicitly applied (?P<name>.+?) delegate, and the model graph will be partially executed "
    r"by the delegate w/ (?P<k>\d+) delegate kernels"
)
_APPLIED_NONE_RE = re.compile(
    r"^Though (?P<name>.+?) delegate is explicitly applied, the model graph will not be executed"
)
# Builds from before "Explicitly" was added (about TF 2.3) said "Applied GPU delegate, and ...".
_APPLIED_OLD_RE = re.compile(
    r"^Applied (?P<name>.+?) delegate, and the model graph will be (?P<how>completely|partially)"
)
_APPLIED_PLAIN_RE = re.compile(r"^Applied (?P<name>\w+) delegate\.$")
_FAILED_APPLY_RE = re.compile(r"^Failed to apply (?P<name>.+?) delegate\.?$")
_NNAPI_ACCEL_RE = re.compile(r"^NNAPI accelerators available: \[(?P<names>[^\]]*)\]")

# The kernel names each delegate registers (what "Replacing ... (NAME)" and profiles show).
DELEGATE_KERNELS = {
    "xnnpack": ("TfLiteXNNPackDelegate",),
    "gpu": ("TfLiteGpuDelegateV2", "TfLiteGpuDelegate", "TfLiteMetalDelegate"),
    "nnapi": ("TfLiteNnapiDelegate",),
}
# The name the benchmark tool's providers print ("Explicitly applied GPU delegate").
DELEGATE_PROVIDER_NAMES = {"xnnpack": "XNNPACK", "gpu": "GPU", "nnapi": "NNAPI"}


def strip_log_prefix(line: str) -> str:
    """Remove logcat / TFLITE_LOG level prefixes: `strip_log_prefix("INFO: STARTING!") == "STARTING!"`."""
    return _PREFIX_RE.sub("", line.strip(), count=1)


def _lines(text: str) -> list[str]:
    return [strip_log_prefix(line) for line in text.splitlines()]


def parse_stat_line(line: str) -> dict[str, Any] | None:
    """Parse a `count=... first=... avg=... std=...` line (microseconds) into a dict, or None.

    `Stat::OutputToStream` prints `count=0`, `count=N curr=X` (all samples equal, "(all same)"
    appended when N > 1), or the full form; builds since 2023 append `p5= median= p95=`.
    """
    body = strip_log_prefix(line)
    if not _STAT_START_RE.match(body):
        return None
    values: dict[str, Any] = {k: float(v) for k, v in _STAT_PAIR_RE.findall(body)}
    values["count"] = int(values["count"])
    if "avg" not in values and "curr" in values:
        # All samples were the same value, so the summary is that value.
        same = values["curr"]
        values.update({"first": same, "min": same, "max": same, "avg": same, "std": 0.0})
    return values


def parse_timings(text: str) -> dict[str, float] | None:
    """The summary line `Inference timings in us: Init: ..., Inference (avg): ...`, in microseconds."""
    for line in _lines(text):
        m = _TIMING_RE.search(line)
        if m:
            return {
                "init_us": float(m["init"]),
                "first_inference_us": float(m["first"]),
                "warmup_avg_us": float(m["warmup"]),
                "inference_avg_us": float(m["avg"]),
            }
    return None


def parse_run_stats(text: str) -> dict[str, dict[str, Any] | None]:
    """Warm-up and timed-run statistics: the stat line after each `Running benchmark ...` header.

    The op profiler prints its own `Timings (microseconds): count=...` lines; those are not
    preceded by a run header and so are never taken for the benchmark's statistics.
    """
    found: list[dict[str, Any]] = []
    awaiting = False
    for line in _lines(text):
        if _RUN_HEADER_RE.match(line):
            awaiting = True
            continue
        if awaiting and line:
            stat = parse_stat_line(line)
            if stat is not None:
                found.append(stat)
            awaiting = False
    return {
        "warmup": found[0] if len(found) >= 1 else None,
        "inference": found[1] if len(found) >= 2 else None,
    }


def parse_memory(text: str) -> dict[str, Any]:
    """Memory lines in MB: `{init_mb, overall_mb, peak_mb, kind}`; kind says which format was seen."""
    out: dict[str, Any] = {"init_mb": None, "overall_mb": None, "peak_mb": None, "kind": None}
    for line in _lines(text):
        if m := _MEM_OLD_RE.match(line):
            out.update(init_mb=float(m[1]), overall_mb=float(m[2]), kind="max_rss")
        elif m := _MEM_DELTA_RE.match(line):
            out.update(init_mb=float(m[1]), overall_mb=float(m[2]), kind="delta_from_start")
        elif m := _MEM_PEAK_RE.match(line):
            out["peak_mb"] = float(m[1])
    return out


def peak_memory_mb(memory: dict[str, Any]) -> float | None:
    """The best peak figure available: the sampled peak, else the overall max-RSS / delta."""
    if memory.get("peak_mb") is not None:
        return memory["peak_mb"]
    return memory.get("overall_mb")


def parse_delegate_events(text: str) -> dict[str, list[dict[str, Any]]]:
    """What the runtime and the tool said about delegates.

    Returns `replacements` (one per "Replacing ..." line), `applied` (the tool's verdict per
    delegate: complete / partial / none), `failures` ("Failed to apply X delegate.") and
    `nnapi_accelerators` (names listed by the NNAPI provider, empty when not printed).
    """
    events: dict[str, list[Any]] = {"replacements": [], "applied": [], "failures": [], "nnapi_accelerators": []}
    for line in _lines(text):
        if m := _REPLACING_RE.match(line):
            events["replacements"].append(
                {
                    "kernel": m["kernel"],
                    "nodes_delegated": int(m["n"]),
                    "nodes_total": int(m["m"]) if m["m"] is not None else None,
                    "partitions": int(m["parts"]),
                    "subgraph": int(m["sub"]) if m["sub"] is not None else None,
                }
            )
        elif m := _APPLIED_FULL_RE.match(line):
            events["applied"].append({"delegate": m["name"], "execution": "complete", "kernels": 1})
        elif m := _APPLIED_PARTIAL_RE.match(line):
            events["applied"].append({"delegate": m["name"], "execution": "partial", "kernels": int(m["k"])})
        elif m := _APPLIED_NONE_RE.match(line):
            events["applied"].append({"delegate": m["name"], "execution": "none", "kernels": 0})
        elif m := _APPLIED_OLD_RE.match(line):
            events["applied"].append({"delegate": m["name"], "execution": m["how"], "kernels": None})
        elif m := _APPLIED_PLAIN_RE.match(line):
            events["applied"].append({"delegate": m["name"], "execution": "unknown", "kernels": None})
        elif m := _FAILED_APPLY_RE.match(line):
            events["failures"].append({"delegate": m["name"], "line": line})
        elif m := _NNAPI_ACCEL_RE.match(line):
            events["nnapi_accelerators"] = [n.strip() for n in m["names"].split(",") if n.strip()]
    return events


_LOGCAT_ERROR_RE = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+E\s")


def error_lines(text: str) -> list[str]:
    """Lines the tools flagged as errors (`ERROR:` / logcat level `E`), prefix removed, in order."""
    return [
        strip_log_prefix(raw)
        for raw in text.splitlines()
        if raw.strip().startswith("ERROR: ") or _LOGCAT_ERROR_RE.match(raw.strip())
    ]


def benchmark_failed(text: str) -> bool:
    """True when the tool gave up: `Benchmarking failed.` or no timing summary at all."""
    lines = _lines(text)
    return "Benchmarking failed." in lines or parse_timings(text) is None


def delegate_coverage(events: dict[str, list[Any]], delegate: str) -> dict[str, Any] | None:
    """Nodes and partitions the requested delegate took, summed over subgraphs; None if unknown.

    `nodes_total` is None for runtimes that print "Replacing N node(s)" without "out of M".
    """
    kernels = DELEGATE_KERNELS.get(delegate, ())
    mine = [r for r in events["replacements"] if r["kernel"] in kernels]
    if not mine:
        verdict = _verdict(events, delegate)
        if verdict is not None and verdict["execution"] == "none":
            return {"nodes_delegated": 0, "nodes_total": None, "partitions": 0}
        return None
    totals = [r["nodes_total"] for r in mine]
    return {
        "nodes_delegated": sum(r["nodes_delegated"] for r in mine),
        "nodes_total": None if None in totals else sum(totals),
        "partitions": sum(r["partitions"] for r in mine),
    }


def _verdict(events: dict[str, list[Any]], delegate: str) -> dict[str, Any] | None:
    name = DELEGATE_PROVIDER_NAMES.get(delegate)
    for item in events["applied"]:
        if item["delegate"] == name:
            return item
    return None


def fallback_warning(events: dict[str, list[Any]], delegate: str, failed: bool) -> str | None:
    """A one-line warning when the requested delegate did not run the whole graph, else None.

    Silent CPU fallback is the failure this report exists to expose: a GPU or NNAPI run that
    "succeeds" at CPU speed must never read like an accelerator number.
    """
    if delegate == "cpu":
        return None
    label = DELEGATE_PROVIDER_NAMES.get(delegate, delegate)
    failure = next((f for f in events["failures"] if f["delegate"] == label), None)
    if failure is not None or (failed and delegate != "xnnpack"):
        return f"{label} delegate failed to apply; this configuration has no timing"
    accelerators = events["nnapi_accelerators"]
    if delegate == "nnapi" and accelerators and set(accelerators) <= {"nnapi-reference"}:
        return (
            "NNAPI lists only 'nnapi-reference' (its CPU reference implementation): "
            "the device exposes no NNAPI accelerator, so this is not an NPU/DSP timing"
        )
    verdict = _verdict(events, delegate)
    if verdict is not None and verdict["execution"] == "none":
        return f"{label} delegate took no nodes: the whole graph ran on the CPU"
    coverage = delegate_coverage(events, delegate)
    if coverage is not None and coverage["nodes_total"] is not None:
        cpu_nodes = coverage["nodes_total"] - coverage["nodes_delegated"]
        if cpu_nodes > 0:
            return (
                f"{label} delegate took {coverage['nodes_delegated']} of {coverage['nodes_total']} nodes "
                f"in {coverage['partitions']} partitions; {cpu_nodes} nodes fall back to the CPU"
            )
        return None
    if verdict is not None and verdict["execution"] == "partial":
        return f"{label} delegate ran the graph only partially ({verdict['kernels']} delegate kernels); the rest runs on the CPU"
    if coverage is None and verdict is None and delegate != "xnnpack":
        return f"no sign in the tool output that the {label} delegate ran; treat this timing as CPU"
    return None


# ---------------------------------------------------------------------------- op profiling
def parse_op_profile(text: str) -> dict[str, Any] | None:
    """The `--enable_op_profiling=true` tables of the regular runs, or None when absent: the
    record of `op_profile` (run_order, by_node_type, ops_ms, coverage; `where` tells delegate
    work from builtin kernels, e.g. `TfLiteXNNPackDelegate` or XNNPACK's own operators)."""
    from .op_profile import from_summary

    return from_summary(text)


# ---------------------------------------------------------------------------- whole output
def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def summarize_benchmark(text: str, delegate: str) -> dict[str, Any]:
    """Turn one benchmark run's output into the host-benchmark result fields: the output of
    `benchmark_model` (C++, Android) or of the wheel's `benchmark_litert_model` (Python, host),
    told apart by what they print.

    `benchmark_model`: `latency_ms_p50` comes from `median=` (printed by builds since 2023); older
    builds print only the mean, and then p50 is None and `latency_ms_mean` carries the figure.
    """
    if is_litert_tool_output(text):
        return summarize_litert_tool(text)
    timings = parse_timings(text)
    stats = parse_run_stats(text)["inference"]
    memory = parse_memory(text)
    events = parse_delegate_events(text)
    failed = benchmark_failed(text)
    errors = error_lines(text)
    result: dict[str, Any] = {
        "runs_measured": stats["count"] if stats else None,
        "latency_ms_p50": _ms(stats.get("median")) if stats else None,
        "latency_ms_p90": None,
        "latency_ms_p95": _ms(stats.get("p95")) if stats else None,
        "latency_ms_p99": None,
        "latency_ms_mean": _ms(timings["inference_avg_us"]) if timings else None,
        "latency_ms_std": _ms(stats.get("std")) if stats else None,
        "latency_ms_min": _ms(stats.get("min")) if stats else None,
        "latency_ms_max": _ms(stats.get("max")) if stats else None,
        "init_ms": _ms(timings["init_us"]) if timings else None,
        "first_inference_ms": _ms(timings["first_inference_us"]) if timings else None,
        "warmup_ms_mean": _ms(timings["warmup_avg_us"]) if timings else None,
        "peak_memory_mb": peak_memory_mb(memory),
        "memory_kind": memory["kind"],
        "delegate_coverage": delegate_coverage(events, delegate),
        "fallback_warning": fallback_warning(events, delegate, failed),
        "error": _failure_message(errors, delegate) if failed else None,
    }
    profile = parse_op_profile(text)
    if profile is not None:
        result["op_profile"] = profile
    return result


def _failure_message(errors: list[str], delegate: str) -> str:
    label = DELEGATE_PROVIDER_NAMES.get(delegate, delegate)
    useful = [e for e in errors if e != "Benchmarking failed."]
    reason = "; ".join(useful[:3]) if useful else "benchmark_model printed no timing summary"
    return f"benchmark_model failed with delegate {label}: {reason}"


# ---------------------------------------------------------------------------- benchmark_litert_model
# The wheel's tool (ai_edge_litert/tools/benchmark_litert_model.py, run_benchmark) prints its results
# to stdout in one block, each value in ms with two decimals:
#   ========================================
#    BENCHMARK RESULTS
#   ========================================
#   Model initialization:  2.50 ms
#   Warmup (avg):          0.25 ms (5 runs)
#   ...
#   Fully accelerated:     False
# and logs through Python logging to stderr ("2026-12-05 19:10:07 ERROR benchmark_litert_model: ...").
_LITERT_HEADER = "BENCHMARK RESULTS"
_LITERT_LOGGER = "benchmark_litert_model: "
_LITERT_MS_RE = re.compile(rf"^(?P<label>[A-Za-z][A-Za-z ()0-9]*?):\s+(?P<ms>{_NUM}) ms(?: \((?P<n>\d+) runs\))?$")
_LITERT_THROUGHPUT_RE = re.compile(rf"^Throughput:\s+(?P<v>{_NUM}) MB/s$")
_LITERT_ACCEL_RE = re.compile(r"^Fully accelerated:\s+(?P<v>True|False)$")
_LITERT_LOG_ERROR_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR benchmark_litert_model: (?P<msg>.+)$")
_PY_EXCEPTION_RE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit)): (?P<msg>.*)$")
_LITERT_KEYS = {
    "Model initialization": "init_ms", "Warmup (first)": "warmup_first_ms", "Warmup (avg)": "warmup_avg_ms",
    "Inference (avg)": "avg_ms", "Inference (min)": "min_ms", "Inference (max)": "max_ms",
    "Inference (median)": "median_ms", "Inference (std)": "std_ms", "Inference (p5)": "p5_ms",
    "Inference (p95)": "p95_ms",
}


def is_litert_tool_output(text: str) -> bool:
    """True for output of `benchmark_litert_model` (its results block or its logger's lines)."""
    return any(line.strip() == _LITERT_HEADER or _LITERT_LOGGER in line for line in text.splitlines())


def parse_litert_tool(text: str) -> dict[str, Any] | None:
    """The `BENCHMARK RESULTS` block of `benchmark_litert_model` (ms, rounded to 0.01), or None.

    Keys: `init_ms warmup_first_ms warmup_avg_ms warmup_runs avg_ms runs min_ms max_ms median_ms
    std_ms p5_ms p95_ms throughput_mb_s fully_accelerated` (None where not printed).
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == _LITERT_HEADER), None)
    if start is None:
        return None
    out = _empty_litert_block()
    for raw in lines[start + 1:]:
        line = raw.strip()
        if m := _LITERT_MS_RE.match(line):
            key = _LITERT_KEYS.get(m["label"])
            if key is None:
                continue
            out[key] = float(m["ms"])
            if m["n"] is not None:
                out["warmup_runs" if key == "warmup_avg_ms" else "runs"] = int(m["n"])
        elif m := _LITERT_THROUGHPUT_RE.match(line):
            out["throughput_mb_s"] = float(m["v"])
        elif m := _LITERT_ACCEL_RE.match(line):
            out["fully_accelerated"] = m["v"] == "True"
    return out if out["median_ms"] is not None else None


def _empty_litert_block() -> dict[str, Any]:
    return dict.fromkeys((*_LITERT_KEYS.values(), "warmup_runs", "runs", "throughput_mb_s", "fully_accelerated"))


def litert_tool_errors(text: str) -> list[str]:
    """Why `benchmark_litert_model` stopped: its logger's ERROR lines, the runtime's `ERROR:` lines
    and the exception of a traceback, in order."""
    found: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("\u2514 ") and found:  # LiteRT continues a status message on a "\u2514 " line
            found[-1] += " " + line[2:].strip()
        elif m := _LITERT_LOG_ERROR_RE.match(line):
            found.append(m["msg"])
        elif line.startswith("ERROR: "):
            found.append(strip_log_prefix(line))
        elif m := _PY_EXCEPTION_RE.match(line):
            found.append(line)
    return found


def summarize_litert_tool(text: str) -> dict[str, Any]:
    """`benchmark_litert_model` output as the host-benchmark result fields.

    The tool prints p5/median/p95 but no p90/p99 (None here), and no memory figure. Warmup (first)
    is the first invocation, so it is `first_inference_ms` when at least one warm-up ran.
    `fully_accelerated` False means some nodes run on the builtin CPU kernels instead of XNNPACK
    (int8 SOFTMAX in every full-int8 classifier): still the CPU, so no fallback warning.
    """
    block, error = parse_litert_tool(text), None
    if block is None:
        errors = litert_tool_errors(text)
        reason = "; ".join(dict.fromkeys(errors[-3:])) if errors else "no BENCHMARK RESULTS block in its output"
        block, error = _empty_litert_block(), f"benchmark_litert_model failed: {reason}"
    return {
        "runs_measured": block["runs"],
        "latency_ms_p50": block["median_ms"],
        "latency_ms_p5": block["p5_ms"],
        "latency_ms_p90": None,
        "latency_ms_p95": block["p95_ms"],
        "latency_ms_p99": None,
        "latency_ms_mean": block["avg_ms"],
        "latency_ms_std": block["std_ms"],
        "latency_ms_min": block["min_ms"],
        "latency_ms_max": block["max_ms"],
        "init_ms": block["init_ms"],
        "first_inference_ms": block["warmup_first_ms"] if block["warmup_runs"] else None,
        "warmup_ms_mean": block["warmup_avg_ms"] if block["warmup_runs"] else None,
        "warmup_invocations": block["warmup_runs"],
        "latency_resolution_ms": None if error else 0.01,
        "peak_memory_mb": None,
        "memory_kind": None,
        "fully_accelerated": block["fully_accelerated"],
        "delegate_coverage": None,
        "fallback_warning": None,
        "error": error,
    }


# ---------------------------------------------------------------------------- adb
_ADB_NOISE = ("* daemon", "List of devices attached", "adb server", "* ")
_ADB_KEY_RE = re.compile(r"^(usb|product|model|device|transport_id):(.*)$")


def parse_adb_devices(text: str) -> list[dict[str, Any]]:
    """Parse `adb devices` / `adb devices -l` into `{serial, state, usb, product, model, device, transport_id}`.

    adb prints `"%-22s %s"` (serial, state) then ` usb:… product:… model:… device:… transport_id:N`
    (long form) or `serial\\tstate` (short form). A state can contain spaces ("no permissions
    (…); see [url]"), so key:value tokens are peeled from the end and the rest is the state.
    """
    devices = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(_ADB_NOISE):
            continue
        tokens = line.split()
        if len(tokens) < 2:
            continue
        serial, rest = tokens[0], tokens[1:]
        info: dict[str, Any] = {"serial": serial, "usb": None, "product": None, "model": None, "device": None, "transport_id": None}
        while rest and (m := _ADB_KEY_RE.match(rest[-1])):
            key, value = m[1], m[2]
            info[key] = value if key != "usb" else f"usb:{value}"
            rest = rest[:-1]
        info["state"] = " ".join(rest)
        if info["transport_id"] is not None:
            info["transport_id"] = int(info["transport_id"])
        devices.append(info)
    return devices


_GETPROP_RE = re.compile(r"^\[(?P<key>[^\]]+)\]: \[(?P<value>.*)$")


def parse_getprop(text: str) -> dict[str, str]:
    """Parse `getprop` output (`[key]: [value]`, values may span lines) into a dict."""
    props: dict[str, str] = {}
    key: str | None = None
    buffer: list[str] = []
    for line in text.splitlines():
        if key is None:
            m = _GETPROP_RE.match(line)
            if not m:
                continue
            key, first = m["key"], m["value"]
            buffer = [first]
        else:
            buffer.append(line)
        joined = "\n".join(buffer)
        if joined.endswith("]"):
            props[key] = joined[:-1]
            key, buffer = None, []
    return props


def count_cpus(possible: str) -> int | None:
    """Cores from `/sys/devices/system/cpu/possible` ("0-7" or "0-3,6"): `count_cpus("0-7") == 8`."""
    total = 0
    for part in possible.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            return None
        total += (int(hi) - int(lo) + 1) if hi else 1
    return total or None
