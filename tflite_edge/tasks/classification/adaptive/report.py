"""The report's adaptive section: each cascade's accuracy and exit rates (evaluate stage) with its
per-image latency, added up from the benchmark stage's per-segment timings, against the full model
of the same format timed by the same engine in the same run; and the accuracy / latency curve over
thresholds for report.html."""
from __future__ import annotations

from html import escape
from typing import List, Optional

import numpy as np

from . import cascade


def _mean_ms(record: dict) -> Optional[float]:
    if not record or "error" in record:
        return None
    v = record.get("latency_ms_mean")
    return float(v) if v is not None else (float(record["latency_ms_p50"]) if record.get("latency_ms_p50") else None)


def _latency(row: dict, full_name: str, bench: dict) -> dict:
    """Per target: segment means, the cascade's mean/p50/p90 per image, the full model's mean."""
    out = {}
    targets = [t for t in bench.get(row["segments"][0], {})]
    for target in targets:
        seg_ms = [_mean_ms(bench.get(s, {}).get(target, {})) for s in row["segments"]]
        full_ms = _mean_ms(bench.get(full_name, {}).get(target, {}))
        if any(v is None for v in seg_ms):
            out[target] = {"error": "a segment was not timed on this target (see its benchmark entry)"}
            continue
        exit_at = np.repeat(np.arange(len(row["exit_counts"])), row["exit_counts"])
        summary = cascade.latency_summary(exit_at, seg_ms)
        out[target] = {"threads": bench[row["segments"][0]][target].get("threads"),
                       "engine": bench[row["segments"][0]][target].get("engine"),
                       "segment_ms_mean": seg_ms, **summary, "full_model_ms_mean": full_ms,
                       "speedup_mean": (full_ms / summary["latency_ms_mean"]) if full_ms else None,
                       "curve": [{"shared_threshold": p["shared_threshold"], "accuracy": p["accuracy"],
                                  "latency_ms_mean": cascade.latency_from_rates(p["exit_rates"], seg_ms)}
                                 for p in row["sweep"]]}
    return out


def build_section(ctx, ev: dict, bench: dict) -> dict:
    """report.json's `adaptive`: the recipe's exits and one entry per cascade (Keras first)."""
    a = ctx.recipe.adaptive
    rows = []
    for row in ev["cascades"]:
        entry = {k: v for k, v in row.items() if k not in ("sweep", "exit_counts")}
        entry["exit_counts"] = row["exit_counts"]
        if row["format"] != "keras":
            from ....export import artifact_name

            entry["full_model"] = artifact_name(ctx.recipe.name, row["format"])
            entry["latency"] = _latency(row, entry["full_model"], bench)
        else:
            entry["sweep"] = row["sweep"]
        rows.append(entry)
    return {"exits": [e.model_dump(mode="json") for e in a.exits], "threshold": a.threshold,
            "max_accuracy_drop": a.max_accuracy_drop, "drop_confidence": a.drop_confidence, "cascades": rows}


def render_markdown(section: dict) -> List[str]:
    exits = ", ".join(e["after"] for e in section["exits"])
    lines = ["", "## Adaptive inference (early-exit cascade)", "",
             f"Exits after {exits}; thresholds {section['threshold']} ({choice_text(section)}). Latency per image: "
             "the segments it ran, from the benchmark's per-segment means; the full model timed in the same run.", "",
             "| cascade | thresholds | accuracy | full model | exit rates | mean ms | p50 ms | p90 ms | "
             "full model mean ms | speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in section["cascades"]:
        lat = next((v for v in (c.get("latency") or {}).values() if "error" not in v), {})
        rates = " / ".join(f"{100 * r:.1f}%" for r in c["exit_rates"])
        th = ", ".join(f"{t:.3f}" for t in c["thresholds"])
        speed = f"{lat['speedup_mean']:.2f}x" if lat.get("speedup_mean") else "-"

        def ms(key):
            return f"{lat[key]:.4f}" if lat.get(key) is not None else "-"

        lines.append(f"| {c['format']} | {th} | {100 * c['accuracy']:.2f}% | {100 * c['full_accuracy']:.2f}% | "
                     f"{rates} | {ms('latency_ms_mean')} | {ms('latency_ms_p50')} | {ms('latency_ms_p90')} | "
                     f"{ms('full_model_ms_mean')} | {speed} |")
    return lines


def choice_text(section: dict) -> str:
    """How the thresholds were chosen, with the margin kept for unseen images."""
    limit = f"{100 * section['max_accuracy_drop']:.2f} pt"
    if section["threshold"] != "auto":
        return "from the recipe"
    conf = section.get("drop_confidence")
    if not conf:
        return f"auto: validation accuracy within {limit} of the full model of the same format, no margin"
    margins = [f"{c['format']} {100 * v['drop']:+.2f} pt, bound {100 * v['drop_bound']:.2f} pt"
               + ("" if v.get("met", True) else " (limit missed even at the highest threshold)")
               for c in section["cascades"] if (v := c.get("validation")) and "drop_bound" in v]
    return (f"auto: a one-sided {100 * conf:.0f}% upper bound on the accuracy drop on unseen images kept within "
            f"{limit} of the full model of the same format; validation drop and bound: {'; '.join(margins)}")


def html_section(section: dict) -> str:
    """The report.html part: the curve and the table of report.md."""
    from ....plots import cascade_curve_svg

    svg = cascade_curve_svg(section)
    rows = []
    for c in section["cascades"]:
        lat = next((v for v in (c.get("latency") or {}).values() if "error" not in v), {})
        cells = [escape(c["format"]), ", ".join(f"{t:.3f}" for t in c["thresholds"]),
                 f"{100 * c['accuracy']:.2f}%", f"{100 * c['full_accuracy']:.2f}%",
                 " / ".join(f"{100 * r:.1f}%" for r in c["exit_rates"])]
        cells += [f"{lat[k]:.4f}" if lat.get(k) is not None else "-" for k in
                  ("latency_ms_mean", "latency_ms_p50", "latency_ms_p90", "full_model_ms_mean")]
        cells.append(f"{lat['speedup_mean']:.2f}x" if lat.get("speedup_mean") else "-")
        rows.append("<tr>" + "".join(f"<td{' class=l' if i == 0 else ''}>{v}</td>" for i, v in enumerate(cells))
                    + "</tr>")
    head = ("<tr><th class=l>cascade</th><th>thresholds</th><th>accuracy</th><th>full model</th><th>exit rates</th>"
            "<th>mean ms</th><th>p50 ms</th><th>p90 ms</th><th>full model mean ms</th><th>speed-up</th></tr>")
    figure = f"<figure>{svg}</figure>" if svg else "<p class=muted>no cascade was timed: nothing to plot</p>"
    return (f"<h3>Adaptive inference (early-exit cascade)</h3><p>Thresholds {escape(str(section['threshold']))}: "
            f"{escape(choice_text(section))}.</p>{figure}<table>{head}{''.join(rows)}</table>")
