"""The best artifact per target, and what the report says when int8 does not pay off there.

Which precision is fastest depends on the model and the target (on a 2-core x86 host a small
MobileNet's int8 graph can lose to its float graph; at 224 px int8 wins 2x), so the choice is made
from the latencies the benchmark stage measured, per target: the fastest artifact that passes every
gate. Standard library only: report.json in, plain dicts and lines out.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .bench.op_profile import describe, top_types


def _p50(bench: dict) -> Optional[float]:
    if not bench or bench.get("error"):
        return None
    return bench.get("latency_ms_p50") or bench.get("latency_ms_mean")


def _failed_gates(rep: dict) -> Dict[str, List[str]]:
    """Artifact name -> the gates it failed (gates named NAME[artifact])."""
    failed: Dict[str, List[str]] = {}
    for g in rep.get("gates", []):
        name = g["name"]
        if not g["passed"] and name.endswith("]") and "[" in name:
            failed.setdefault(name[name.index("[") + 1:-1], []).append(name[:name.index("[")])
    return failed


def targets_of(rep: dict) -> List[str]:
    seen: List[str] = []
    for a in rep.get("artifacts", []):
        for t in a.get("benchmark", {}):
            if t not in seen:
                seen.append(t)
    return seen


def recommend(rep: dict) -> Dict[str, Any]:
    """Per target: the fastest artifact that passes every gate, its p50 and its speed-up over each
    other artifact timed there (their p50 / its p50); `None` artifact when none passes."""
    failed = _failed_gates(rep)
    out: Dict[str, Any] = {}
    for target in targets_of(rep):
        timed = [(a, _p50(a["benchmark"].get(target))) for a in rep["artifacts"]]
        timed = [(a, t) for a, t in timed if t is not None]
        passing = [(a, t) for a, t in timed if a["name"] not in failed]
        if not passing:
            out[target] = {"artifact": None, "why": "no artifact timed on this target passes every gate",
                           "failed": {a["name"]: failed.get(a["name"], []) for a, _ in timed}}
            continue
        best, best_t = min(passing, key=lambda p: p[1])
        out[target] = {"artifact": best["name"], "format": best["format"], "latency_ms_p50": best_t,
                       "speedup_over": {a["name"]: t / best_t for a, t in timed if a is not best},
                       "left_out": {name: gates for name, gates in failed.items()
                                    if any(a["name"] == name for a, _ in timed)}}
    return out


def int8_warnings(rep: dict) -> List[str]:
    """A plain warning per target where the int8 artifact is slower than the float32 one, naming
    the ops that cost most and those that fell out of the delegate (from its per-op profile)."""
    by_format = {a["format"]: a for a in rep.get("artifacts", [])}
    f32, i8 = by_format.get("float32"), by_format.get("int8")
    if not f32 or not i8:
        return []
    lines = []
    for target in targets_of(rep):
        t32, t8 = _p50(f32["benchmark"].get(target)), _p50(i8["benchmark"].get(target))
        if t32 is None or t8 is None or t8 <= t32:
            continue
        line = (f"int8 is slower than float32 on {target}: {i8['name']} {t8:.3f} ms vs {f32['name']} "
                f"{t32:.3f} ms ({t8 / t32:.2f}x)")
        profile = (i8["benchmark"].get(target) or {}).get("op_profile")
        if profile:
            line += f"; int8 {describe(profile)}"
        else:
            line += "; set benchmark.profile: true to see which ops cost it"
        lines.append(line)
    return lines


def _speedups(r: dict, name=lambda n: n) -> str:
    """`1.46x vs a, 1.02x vs b`: a recommendation's speed-up over the others, largest first."""
    return ", ".join(f"{x:.2f}x vs {name(n)}" for n, x in sorted(r["speedup_over"].items(), key=lambda kv: -kv[1]))


def _profiled(rep: dict) -> list:
    """(artifact, target, op_profile) of every benchmark row that carries a profile."""
    return [(a, t, b["op_profile"]) for a in rep.get("artifacts", [])
            for t, b in a.get("benchmark", {}).items() if isinstance(b, dict) and b.get("op_profile")]


def markdown(rep: dict) -> List[str]:
    """report.md lines: the recommendation per target, warnings, and top ops of profiled artifacts."""
    lines: List[str] = []
    rec = rep.get("recommended") or {}
    if rec:
        lines += ["", "## Recommended per target", ""]
        for target, r in rec.items():
            if r["artifact"] is None:
                lines.append(f"- **{target}**: none ({r['why']})")
                continue
            others = _speedups(r)
            lines.append(f"- **{target}**: `{r['artifact']}` ({r['format']}), p50 {r['latency_ms_p50']:.3f} ms"
                         + (f"; {others}" if others else ""))
    for w in rep.get("warnings", []):
        lines.append(f"\n> **Warning:** {w}")
    profiled = _profiled(rep)
    if profiled:
        lines += ["", "## Per-op profile (top op types)", "",
                  "| artifact | target | op type | where | ms per run | share |", "|---|---|---|---|---|---|"]
        for a, t, p in profiled:
            for row in top_types(p, 5):
                lines.append(f"| {a['name']} | {t} | {row['node_type']} | {row['where']} | {row['avg_ms']:.4f} | "
                             f"{row['pct']:.1f}% |")
        lines.append("")
        for a, t, p in profiled:
            extra = ""
            if p.get("invoke_ms_p50"):
                extra = (f"; ops add up to {p['ops_ms']:.4f} ms of the profiled invoke's {p['invoke_ms_p50']:.4f} ms "
                         f"p50 ({100 * p['ops_ms'] / p['invoke_ms_p50']:.0f}%)")
            lines.append(f"- {a['name']} on {t}: {describe(p)}{extra}")
    mixed = rep.get("mixed_search")
    if mixed:
        lines += ["", "## Mixed precision search", "",
                  f"{mixed['candidates_timed']} candidates timed on {mixed['target']} in {mixed['wall_s']:.0f} s "
                  f"({mixed['engine']}); bound: validation drop <= {mixed['max_accuracy_drop']}"
                  + (f" for its upper bound at {mixed['drop_confidence']:.0%} confidence ({mixed.get('margin_method')})"
                     if mixed.get("drop_confidence") else "") + "; "
                  + ("met" if mixed["met"] else "**not met**: the closest candidate is written"), ""]
        lines += ["| candidate | precisions (ops) | val accuracy | drop | drop bound | p50 ms | Pareto |",
                  "|---|---|---|---|---|---|---|"]
        for c in mixed["candidates"]:
            if c["latency_ms"] is None:
                continue
            ops = ", ".join(f"{k} {v}" for k, v in c["ops_by_precision"].items() if v)
            mark = " (chosen)" if c["id"] == mixed["chosen"] else ""
            bound = "-" if c.get("accuracy_drop_bound") is None else f"{c['accuracy_drop_bound']:+.4f}"
            lines.append(f"| {c['id']} {c['label']}{mark} | {ops} | {c['val_accuracy']:.4f} | "
                         f"{c['accuracy_drop']:+.4f} | {bound} | {c['latency_ms']:.4f} | {'yes' if c['pareto'] else ''} |")
    return lines


def html_section(rep: dict) -> str:
    """report.html: the recommendation and warnings first, then the per-op profiles (top types) and
    the mixed-precision candidates' accuracy against latency (Pareto front marked)."""
    from html import escape

    from .bench.op_profile import describe, top_types

    parts = []
    rec = rep.get("recommended") or {}
    if rec:
        items = []
        for target, r in rec.items():
            if r["artifact"] is None:
                items.append(f"<li><b>{escape(target)}</b>: none ({escape(r['why'])})</li>")
                continue
            others = _speedups(r, escape)
            items.append(f"<li><b>{escape(target)}</b>: <code>{escape(r['artifact'])}</code> ({escape(r['format'])}), "
                         f"p50 {r['latency_ms_p50']:.3f} ms{'; ' + others if others else ''}</li>")
        parts.append(f"<h3>Recommended per target</h3><ul>{''.join(items)}</ul>")
    for w in rep.get("warnings", []):
        parts.append(f"<p class=fail><b>Warning:</b> {escape(w)}</p>")
    rows = []
    for a, t, p in _profiled(rep):
        tops = "".join(f"<tr><td class=l>{escape(row['node_type'])}</td><td class=l>{row['where']}</td>"
                       f"<td>{row['count']}</td><td>{row['avg_ms']:.4f}</td><td>{row['pct']:.1f}%</td></tr>"
                       for row in top_types(p, 5))
        rows.append(f"<h4>{escape(a['name'])} on {escape(t)}</h4><p class=muted>{escape(describe(p))}</p>"
                    "<table><tr><th class=l>op type</th><th class=l>where</th><th>nodes</th><th>ms/run</th>"
                    f"<th>share</th></tr>{tops}</table>")
    if rows:
        parts.append("<h3>Per-op profiles</h3>" + "".join(rows))
    mixed = rep.get("mixed_search")
    if mixed:
        from .plots import pareto_svg

        points = [{"run": "candidates", "config": "pareto" if c["pareto"] else "candidate",
                   "size_bytes": c["size_bytes"] or 1, "latency_ms": c["latency_ms"], "quality": c["val_accuracy"],
                   "artifact": f"{c['id']}" + (" (chosen)" if c["id"] == mixed["chosen"] else ""),
                   "quality_key": "validation accuracy"}
                  for c in mixed["candidates"] if c["latency_ms"] is not None and c["val_accuracy"] is not None]
        front = sorted((p for p, c in zip(points, [c for c in mixed["candidates"] if c["latency_ms"] is not None
                                                    and c["val_accuracy"] is not None]) if c["pareto"]),
                       key=lambda p: p["latency_ms"])
        verdict = "met" if mixed["met"] else "NOT met: the closest candidate is written"
        parts.append(f"<h3>Mixed precision search</h3><p class=muted>{mixed['candidates_timed']} candidates timed on "
                     f"{escape(mixed['target'])} in {mixed['wall_s']:.0f} s ({escape(mixed['engine'])}); validation "
                     f"drop bound {mixed['max_accuracy_drop']}: {verdict}</p>"
                     + pareto_svg(points, front, "mixed-precision candidates (validation split)"))
    return "".join(parts)
