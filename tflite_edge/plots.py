"""Every plot the package draws (matplotlib, no display): latency per artifact and target (PNG,
report.py), the artifacts' Pareto plot (inline SVG, report.html) and the search trials' front (PNG).

    >>> plot_latency([{"model": "m_int8.tflite", "target": "host", "threads": 1,
    ...                "delegate": "xnnpack", "latency_ms_p50": 3.4}], Path("lat.png"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on CI machines or boards
    import matplotlib.pyplot as plt

    return plt


def _latency(row: Mapping[str, Any]) -> tuple[float | None, str]:
    # benchmark_model builds before 2023 print no median; fall back to the mean and label it.
    if row.get("latency_ms_p50") is not None:
        return float(row["latency_ms_p50"]), "p50"
    if row.get("latency_ms_mean") is not None:
        return float(row["latency_ms_mean"]), "mean"
    return None, ""


def _series_label(row: Mapping[str, Any]) -> str:
    return f"{row.get('target', '?')} {row.get('delegate', '')} {row.get('threads', '')}t".replace("  ", " ").strip()


def plot_latency(results: Iterable[Mapping[str, Any]], out_path: Path, *, title: str = "Latency per artifact and target") -> Path:
    """Write a grouped bar chart (one group per artifact, one bar per target/delegate/threads) to PNG.

    Rows with an `error` or no latency are left out; mean-based bars are hatched so they are not
    read as medians.
    """
    plt = _pyplot()
    rows = [r for r in results if not r.get("error") and _latency(r)[0] is not None]
    artifacts = list(dict.fromkeys(str(r.get("model", "?")) for r in rows))
    series = list(dict.fromkeys(_series_label(r) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(artifacts) * max(1, len(series)) ** 0.5), 4.5))
    width = 0.8 / max(1, len(series))
    for s_index, label in enumerate(series):
        for a_index, artifact in enumerate(artifacts):
            match = next((r for r in rows if _series_label(r) == label and str(r.get("model", "?")) == artifact), None)
            if match is None:
                continue
            value, kind = _latency(match)
            ax.bar(a_index + s_index * width, value, width, color=f"C{s_index % 10}",
                   hatch="//" if kind == "mean" else None, label=label)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize="small")
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(artifacts))], artifacts, rotation=15, ha="right")
    ax.set_ylabel("latency (ms; hatched = mean, else p50)")
    ax.set_title(title if rows else f"{title} (no successful results)")
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


def pareto_svg(points: list[dict], front: list[dict], title: str) -> str:
    """The artifacts' Pareto plot (report_html.pareto_points, their `front` by latency) as an
    inline SVG string (empty when there is nothing to plot)."""
    if not points:
        return ""
    plt = _pyplot()

    runs = list(dict.fromkeys(p["run"] for p in points))
    configs = list(dict.fromkeys(p["config"] for p in points))
    markers = "os^Dv<>Ph*"
    biggest = max(p["size_bytes"] for p in points) or 1
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tflite-edge"}):
        fig, ax = plt.subplots(figsize=(9, 5.2))
        placed = []
        for p in points:
            # Near-identical points (float32 and float16 often are) get their labels stacked, not overprinted.
            near = sum(1 for q in placed if abs(q["latency_ms"] - p["latency_ms"]) <= 0.03 * max(p["latency_ms"], 1e-9)
                       and abs(q["quality"] - p["quality"]) <= 0.002)
            placed.append(p)
            # Area proportional to bytes, with a floor so a tiny model stays visible.
            area = 40 + 1400 * p["size_bytes"] / biggest
            ax.scatter(p["latency_ms"], 100 * p["quality"], s=area, alpha=0.6, edgecolors="black", linewidths=0.6,
                       color=f"C{runs.index(p['run']) % 10}", marker=markers[configs.index(p["config"]) % len(markers)])
            ax.annotate(p["artifact"] if len(runs) == 1 else f"{p['run']}: {p['artifact']}",
                        (p["latency_ms"], 100 * p["quality"]), fontsize=7, xytext=(5, 4 - 9 * near),
                        textcoords="offset points")
        ax.step([p["latency_ms"] for p in front], [100 * p["quality"] for p in front], where="post",
                color="0.35", linestyle="--", linewidth=1, label="Pareto front")
        for i, r in enumerate(runs if len(runs) > 1 else []):
            ax.scatter([], [], color=f"C{i % 10}", label=r)
        for i, c in enumerate(configs):
            ax.scatter([], [], color="0.6", marker=markers[i % len(markers)], label=c)
        ax.legend(fontsize="small", loc="best")
        lats = [p["latency_ms"] for p in points]
        if min(lats) > 0 and max(lats) / min(lats) > 20:
            ax.set_xscale("log")
        ax.set_xlabel("latency (ms, p50)")
        ax.set_ylabel(f"{points[0]['quality_key']} (%)")
        ax.set_title(f"{title} (marker area = model size)")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: invalid inside HTML


def cascade_curve_svg(section: dict) -> str:
    """Adaptive inference (report.html): accuracy against mean per-image latency over thresholds, one line per cascade and target,
    the full model as a star and the chosen thresholds as a ring; "" when nothing was timed."""
    series = [(c, t, lat) for c in section["cascades"] for t, lat in (c.get("latency") or {}).items()
              if "error" not in lat and lat.get("curve")]
    if not series:
        return ""
    plt = _pyplot()

    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tflite-edge"}):
        fig, ax = plt.subplots(figsize=(9, 5.2))
        for i, (c, target, lat) in enumerate(series):
            colour = f"C{i % 10}"
            pts = sorted(lat["curve"], key=lambda p: p["latency_ms_mean"])
            ax.plot([p["latency_ms_mean"] for p in pts], [100 * p["accuracy"] for p in pts], "-", color=colour,
                    linewidth=1.2, label=f"{c['format']} cascade ({target})")
            ax.scatter([lat["latency_ms_mean"]], [100 * c["accuracy"]], s=80, facecolors="none",
                       edgecolors=colour, linewidths=1.5)
            if lat.get("full_model_ms_mean"):
                ax.scatter([lat["full_model_ms_mean"]], [100 * c["full_accuracy"]], marker="*", s=140,
                           color=colour, label=f"{c['format']} full model")
        ax.set_xlabel("mean latency per image (ms)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("early-exit cascade over thresholds (ring: the thresholds chosen)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def plot_pareto(records: list, front: list, target_ms: float, path: Path) -> Path:
    """Accuracy against latency, one dot per completed trial (area ~ size), the front in red."""
    plt = _pyplot()
    done = [r for r in records if r.get("status") == "completed"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if done:
        biggest = max(r["size_bytes"] for r in done)
        ax.scatter([r["latency_ms"] for r in done], [r["accuracy"] for r in done],
                   s=[20 + 180 * r["size_bytes"] / biggest for r in done], color="0.6", label="trial")
        on_front = sorted((r for r in done if r["trial_id"] in front), key=lambda r: r["latency_ms"])
        # Markers only: a line would suggest a 2-D front, and size is the third objective.
        ax.plot([r["latency_ms"] for r in on_front], [r["accuracy"] for r in on_front], "o", color="C3",
                label="Pareto front (accuracy, latency, size)")
        for r in on_front:
            ax.annotate(r["trial_id"], (r["latency_ms"], r["accuracy"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    ax.axvline(target_ms, color="C0", linestyle="--", label=f"target {target_ms:g} ms")
    ax.set_xlabel("int8 latency p50 (ms)")
    ax.set_ylabel("int8 accuracy (validation)")
    ax.set_title("Search trials")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
