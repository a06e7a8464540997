"""Bar plot of latency per artifact and target, from benchmark result dicts.

    >>> plot_latency([{"model": "m_int8.tflite", "target": "host", "threads": 1,
    ...                "delegate": "xnnpack", "latency_ms_p50": 3.4}], Path("lat.png"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


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
    import matplotlib

    matplotlib.use("Agg")  # no display on CI machines or boards
    import matplotlib.pyplot as plt

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
