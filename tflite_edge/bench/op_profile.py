"""Per-op profiles in one shape, whoever measured them (numpy-free, standard library only).

Two sources give the same record (`benchmark.<target>.op_profile` in report.json):
- the host: LiteRT's profiler events (`litert_profile`), aggregated per node;
- Android (and any board running `benchmark_model --enable_op_profiling=true`): the
  ProfileSummarizer tables the tool prints, read by `parse_tables` (tab-separated in older
  builds, space-aligned in LiteRT's own summary: one regex reads both).

The record:
    run_order     one row per executed node: node_type, avg_ms, pct, times_called, name, where
    by_node_type  one row per node type: node_type, count, avg_ms, pct, times_called, where
    ops_ms        the per-op times added up (ms per invocation)
    coverage      delegate, nodes, delegated, partitions, cpu_ops ({op: count}) where known
`where` is `delegate` for work inside a delegate kernel (XNNPACK's own operators, or the delegate
node itself in older builds) and `cpu` for TFLite's builtin kernels: the ops that fell out.
"""
from __future__ import annotations

import re
import statistics
from typing import Any

_NUM = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# node type, start, first, avg ms, %, cdf%, mem KB, times called, name
_RUN_ROW = re.compile(rf"^\s*(?P<type>\S.*?)\s+(?P<start>{_NUM})\s+(?P<first>{_NUM})\s+(?P<avg>{_NUM})\s+"
                      rf"(?P<pct>{_NUM})%\s+(?P<cdf>{_NUM})%\s+(?P<mem>{_NUM})\s+(?P<calls>\d+)\s+(?P<name>.*?)\s*$")
# node type, count, avg ms, avg %, cdf %, mem KB, times called
_TYPE_ROW = re.compile(rf"^\s*(?P<type>\S.*?)\s+(?P<count>\d+)\s+(?P<avg>{_NUM})\s+(?P<pct>{_NUM})%\s+"
                       rf"(?P<cdf>{_NUM})%\s+(?P<mem>{_NUM})\s+(?P<calls>\d+)\s*$")
_TITLE = re.compile(r"^=+ (?P<title>.+?) =+$")
_PREFIX = re.compile(r"^(?:INFO|VERBOSE|WARNING|ERROR): ")


def where(node_type: str, name: str = "") -> str:
    """`delegate` for a delegate's work, `cpu` for a builtin kernel."""
    if name.startswith("[Delegate]") or node_type.startswith("Delegate/") or "Delegate" in node_type:
        return "delegate"
    return "cpu"


def parse_tables(lines: list[str]) -> dict[str, Any]:
    """The `Run Order` and `Summary by node type` tables of one profile (the first of each)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    current = None
    for raw in lines:
        line = _PREFIX.sub("", raw.rstrip("\n"))
        if m := _TITLE.match(line.strip()):
            current = m["title"]
            continue
        if current not in ("Run Order", "Summary by node type"):
            continue
        key = "run_order" if current == "Run Order" else "by_node_type"
        rows = tables.setdefault(key, [])
        if current == "Run Order" and (m := _RUN_ROW.match(line.replace("\t", "  "))):
            rows.append({"node_type": m["type"].strip(), "avg_ms": float(m["avg"]), "pct": float(m["pct"]),
                         "times_called": int(m["calls"]), "name": m["name"],
                         "where": where(m["type"].strip(), m["name"])})
        elif current == "Summary by node type" and (m := _TYPE_ROW.match(line.replace("\t", "  "))):
            rows.append({"node_type": m["type"].strip(), "count": int(m["count"]), "avg_ms": float(m["avg"]),
                         "pct": float(m["pct"]), "times_called": int(m["calls"]),
                         "where": where(m["type"].strip())})
    return {"run_order": tables.get("run_order", []), "by_node_type": tables.get("by_node_type", [])}


def from_summary(text: str) -> dict[str, Any] | None:
    """A profile from ProfileSummarizer text: benchmark_model's `Operator-wise Profiling Info for
    Regular Benchmark Runs:` section, or LiteRT's summary as `LiteRtGetProfileSummary` returns it."""
    lines = text.splitlines()
    marker = next((i for i, raw in enumerate(lines)
                   if _PREFIX.sub("", raw).startswith("Operator-wise Profiling Info for Regular Benchmark Runs:")),
                  None)
    if marker is None:
        if not any("Run Order" in line for line in lines) or any(
                _PREFIX.sub("", raw).startswith("Profiling Info for Benchmark Initialization") for raw in lines):
            return None
        marker = -1
    tables = parse_tables(lines[marker + 1:])
    if not tables["run_order"]:
        return None
    return _finish(tables, source="ProfileSummarizer text")


def from_events(raw: dict[str, Any], op_names: list[str] | None = None, partitions: int | None = None,
                delegate: str = "XNNPACK") -> dict[str, Any]:
    """A profile from `litert_profile`'s aggregated events: microsecond sums over `runs`."""
    runs = max(1, int(raw["runs"]))
    rows = []
    for n in raw["nodes"]:
        name = f"[Delegate]:{n['index']}" if n["kind"] == "delegate" else f"[Builtin]:{n['index']}"
        node_type = f"Delegate/{n['tag']}" if n["kind"] == "delegate" else n["tag"]
        rows.append({"node_type": node_type, "avg_ms": n["total_us"] / runs / 1000.0, "pct": 0.0,
                     "times_called": n["calls"], "name": name, "where": n["kind"]})
    total = sum(r["avg_ms"] for r in rows) or 1.0
    for r in rows:
        r["pct"] = 100.0 * r["avg_ms"] / total
    by_type: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = by_type.setdefault(r["node_type"], {"node_type": r["node_type"], "count": 0, "avg_ms": 0.0, "pct": 0.0,
                                                "times_called": 0, "where": r["where"]})
        t["count"] += 1
        t["avg_ms"] += r["avg_ms"]
        t["pct"] += r["pct"]
        t["times_called"] += r["times_called"]
    profile = _finish({"run_order": rows, "by_node_type": sorted(by_type.values(), key=lambda t: -t["avg_ms"])},
                      source="LiteRT profiler (C API, CompiledModel)")
    invokes = raw.get("invoke_us") or []
    walls = raw.get("wall_us") or []
    profile["runs"] = runs
    if invokes:
        profile["invoke_ms_p50"] = statistics.median(invokes) / 1000.0
        profile["ops_vs_invoke"] = profile["ops_ms"] / profile["invoke_ms_p50"] if profile["invoke_ms_p50"] else None
    if walls:
        profile["run_ms_p50"] = statistics.median(walls) / 1000.0
    if op_names is not None:
        cpu_nodes = {n["index"]: n["tag"] for n in raw["nodes"] if n["kind"] == "cpu"}
        cpu_ops: dict[str, int] = {}
        for index, tag in sorted(cpu_nodes.items()):
            op = op_names[index] if index < len(op_names) else tag
            cpu_ops[op] = cpu_ops.get(op, 0) + 1
        profile["coverage"] = {"delegate": delegate, "nodes": len(op_names),
                               "delegated": len(op_names) - len(cpu_nodes), "partitions": partitions,
                               "cpu_ops": cpu_ops}
    return profile


def _finish(tables: dict[str, Any], source: str) -> dict[str, Any]:
    run_order = tables["run_order"]
    profile = {"source": source, "run_order": run_order, "by_node_type": tables["by_node_type"],
               "ops_ms": sum(r["avg_ms"] for r in run_order)}
    # Text alone names the ops that ran outside a delegate, not the graph's node count.
    counts: dict[str, int] = {}
    for r in run_order:
        if r["where"] == "cpu":
            counts[r["node_type"]] = counts.get(r["node_type"], 0) + 1
    profile["coverage"] = {"delegate": None, "nodes": None, "delegated": None, "partitions": None,
                           "cpu_ops": counts}
    return profile


def top_types(profile: dict[str, Any], n: int = 5) -> list[dict[str, Any]]:
    """The `n` node types that cost most per invocation."""
    return sorted(profile.get("by_node_type") or [], key=lambda t: -t["avg_ms"])[:n]


def describe(profile: dict[str, Any], n: int = 3) -> str:
    """One line: the costliest op types and what fell out of the delegate."""
    tops = ", ".join(f"{t['node_type']} {t['pct']:.0f}%" for t in top_types(profile, n))
    cov = profile.get("coverage") or {}
    cpu = cov.get("cpu_ops") or {}
    parts = [f"top ops: {tops}" if tops else "no ops profiled"]
    if cov.get("partitions") is not None:
        parts.append(f"{cov.get('delegate') or 'delegate'} {cov['delegated']}/{cov['nodes']} nodes in "
                     f"{cov['partitions']} partition(s)")
    if cpu:
        parts.append("outside the delegate: " + ", ".join(f"{op} x{c}" if c > 1 else op for op, c in cpu.items()))
    return "; ".join(parts)
