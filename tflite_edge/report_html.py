"""report.html: one self-contained page (no scripts, no network) per run, or comparing runs.

A Pareto plot (quality vs latency, marker area = model size) as inline SVG, a table per artifact and
target, the quality gates and the stage timings.

    >>> html = render_html([("demo", {"name": "demo", "artifacts": [], "stages": [], "gates": []})])
    >>> html.startswith("<!DOCTYPE html>")
    True
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Iterable, Optional

from . import atomic, overview
from .errors import UserInputError
from .plots import pareto_svg
from .recommend import html_section as choices_html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:16px 24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#5b6577}
table{border-collapse:collapse;margin:6px 0 14px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #dde2ea;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f3f5f9}td.l,th.l{text-align:left}
.pass{color:#11703a;font-weight:600}.fail{color:#b3261e;font-weight:600}.err{color:#b3261e}
.bar{display:inline-block;height:10px;background:#4c78a8;vertical-align:middle}
figure{margin:8px 0}figure svg{max-width:100%;height:auto}
"""


def _task(rep: dict):
    from .tasks import TASKS, task_for

    return task_for(rep["task"]) if rep.get("task") in TASKS else None


def _quality_keys(rep: dict) -> tuple:
    """The run's score keys (its task's `quality_keys`); a report of a task this version does not
    know: every task's."""
    from .tasks import TASK_NAMES, task_for

    task = _task(rep)
    if task is not None:
        return task.quality_keys
    return tuple(k for name in TASK_NAMES for k in task_for(name).quality_keys)


def _quality(artifact: dict, keys: tuple) -> tuple[Optional[str], Optional[float]]:
    """(key, value) of the first of `keys` (higher is better) that `artifact` carries a number for."""
    for key in keys:
        if isinstance(artifact.get(key), (int, float)):
            return key, float(artifact[key])
    return None, None


def _records(artifact: dict) -> Iterable[tuple[str, dict]]:
    """(target, result) per benchmark configuration of one artifact (a sweep gives several)."""
    for target, b in (artifact.get("benchmark") or {}).items():
        if not isinstance(b, dict):
            continue
        for rec in b.get("sweep", [b]):
            yield rec.get("target", target), rec


def _latency(rec: dict) -> Optional[float]:
    for key in ("latency_ms_p50", "latency_ms_mean"):
        if isinstance(rec.get(key), (int, float)):
            return float(rec[key])
    return None


def _config(target: str, rec: dict) -> str:
    parts = [target]
    if rec.get("delegate"):
        parts.append(str(rec["delegate"]))
    if rec.get("threads"):
        parts.append(f"{rec['threads']}t")
    return " ".join(parts)


def pareto_points(runs: list[tuple[str, dict]]) -> list[dict]:
    """One point per run, artifact and benchmark configuration that has a latency and a quality."""
    points = []
    for run_label, rep in runs:
        keys = _quality_keys(rep)
        for a in rep.get("artifacts", []):
            key, q = _quality(a, keys)
            if q is None:
                continue
            for target, rec in _records(a):
                lat = _latency(rec)
                if lat is None or "error" in rec:
                    continue
                points.append({"run": run_label, "artifact": a.get("name", "?"), "config": _config(target, rec),
                               "latency_ms": lat, "quality": q, "quality_key": key,
                               "size_bytes": a.get("size_bytes") or 0})
    return points


def pareto_front(points: list[dict]) -> list[dict]:
    """The points no other point beats on both latency (lower) and quality (higher), by latency;
    of points equal on both, the first."""
    from .pareto import pareto_front as non_dominated

    front = sorted(non_dominated(points, maximize=("quality",), minimize=("latency_ms",)),
                   key=lambda p: (p["latency_ms"], -p["quality"]))
    return [p for i, p in enumerate(front) if i == 0 or
            (p["latency_ms"], p["quality"]) != (front[i - 1]["latency_ms"], front[i - 1]["quality"])]


def _fmt(v, spec: str = ".3f", scale: float = 1.0, suffix: str = "") -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return f"{v * scale if scale != 1.0 else v:{spec}}{suffix}"  # ints stay ints: 30,620 not 30,620.0


def _pct(v) -> str:
    return _fmt(v, ".2f", 100.0, "%")


def _artifact_table(rep: dict) -> str:
    head = ("<tr><th class=l>artifact</th><th class=l>format</th><th>size (bytes)</th><th>gzip (bytes)</th>"
            "<th>quality</th><th>agreement</th><th class=l>target</th><th>p50 ms</th><th>p90 ms</th>"
            "<th>init ms</th><th>peak MB</th><th class=l>note</th></tr>")
    rows, keys = [], _quality_keys(rep)
    for a in rep.get("artifacts", []):
        key, q = _quality(a, keys)
        base = (f"<td class=l>{escape(str(a.get('name', '?')))}</td><td class=l>{escape(str(a.get('format', '')))}</td>"
                f"<td>{_fmt(a.get('size_bytes'), ',')}</td><td>{_fmt(a.get('gzip_bytes'), ',')}</td>"
                f"<td>{_pct(q)}</td><td>{_pct(a.get('agreement_with_keras'))}</td>")
        recs = list(_records(a)) or [("-", {})]
        for target, rec in recs:
            note = rec.get("error") or rec.get("fallback_warning") or ""
            rows.append(f"<tr>{base}<td class=l>{escape(_config(target, rec) if rec else target)}</td>"
                        f"<td>{_fmt(rec.get('latency_ms_p50'))}</td><td>{_fmt(rec.get('latency_ms_p90'))}</td>"
                        f"<td>{_fmt(rec.get('init_ms'), '.1f')}</td><td>{_fmt(rec.get('peak_memory_mb'), '.0f')}</td>"
                        f"<td class='l{' err' if rec.get('error') else ''}'>{escape(str(note))[:200]}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>" if rows else "<p class=muted>no artifacts</p>"


def _gates_table(rep: dict) -> str:
    gates = rep.get("gates") or []
    if not gates:
        return "<p class=muted>no quality gates in the recipe</p>"
    rows = "".join(
        f"<tr><td class=l>{escape(str(g.get('name')))}</td><td>{_fmt(g.get('value'), '.4f')}</td>"
        f"<td>{_fmt(g.get('threshold'), '.4f')}</td>"
        f"<td class={'pass' if g.get('passed') else 'fail'}>{'pass' if g.get('passed') else 'FAIL'}</td></tr>"
        for g in gates)
    return f"<table><tr><th class=l>gate</th><th>value</th><th>threshold</th><th>result</th></tr>{rows}</table>"


def _stages_table(rep: dict) -> str:
    stages = [s for s in rep.get("stages") or [] if isinstance(s.get("seconds"), (int, float))]
    if not stages:
        return "<p class=muted>no stage timings</p>"
    longest = max(s["seconds"] for s in stages) or 1.0
    rows = "".join(f"<tr><td class=l>{escape(str(s.get('name')))}</td><td>{s['seconds']:.1f}</td>"
                   f"<td class=l><span class=bar style='width:{300 * s['seconds'] / longest:.0f}px'></span></td></tr>"
                   for s in stages)
    total = sum(s["seconds"] for s in stages)
    return (f"<table><tr><th class=l>stage</th><th>seconds</th><th class=l></th></tr>{rows}"
            f"<tr><th class=l>total</th><th>{total:.1f}</th><th></th></tr></table>")


def _task_sections(rep: dict) -> str:
    """The task's own sections of the page (classification's cascades), from its report.json."""
    task = _task(rep)
    return task.html_sections(rep) if task is not None else ""


def _run_section(label: str, rep: dict, heading: str = "h2") -> str:
    keras = rep.get("keras") or {}
    key, quality = _quality(keras, _quality_keys(rep))
    passed = rep.get("passed")
    verdict = "" if passed is None else (f" &middot; gates: <span class={'pass' if passed else 'fail'}>"
                                         f"{'passed' if passed else 'FAILED'}</span>")
    sub = "h3" if heading == "h2" else "h4"
    return (f"<{heading}>{escape(label)}</{heading}>{overview.html(rep, sub)}"
            f"<p class=muted>Keras model: {escape(key or 'quality')} {_pct(quality)} on "
            f"{escape(str(keras.get('test_samples', '-')))}"
            f" test samples, {_fmt(keras.get('params'), ',')} parameters{verdict}</p>"
            f"{choices_html(rep)}"
            f"<{sub}>Artifacts and targets</{sub}>{_artifact_table(rep)}{_task_sections(rep)}"
            f"<{sub}>Quality gates</{sub}>{_gates_table(rep)}"
            f"<{sub}>Stage timings</{sub}>{_stages_table(rep)}")


def _summary_table(runs: list[tuple[str, dict]]) -> str:
    rows = []
    for label, rep in runs:
        pts = pareto_points([(label, rep)])
        fastest = min(pts, key=lambda p: p["latency_ms"]) if pts else None
        smallest = min(rep.get("artifacts") or [{}], key=lambda a: a.get("size_bytes") or float("inf"))
        total = sum(s.get("seconds", 0) for s in rep.get("stages") or [])
        rows.append(f"<tr><td class=l>{escape(label)}</td><td>{_pct(_quality(rep.get('keras') or {}, _quality_keys(rep))[1])}</td>"
                    f"<td>{len(rep.get('artifacts') or [])}</td>"
                    f"<td class=l>{escape(str(smallest.get('name', '-')))} ({_fmt(smallest.get('size_bytes'), ',')} B)</td>"
                    f"<td class=l>{escape(fastest['artifact']) + ' (' + _fmt(fastest['latency_ms']) + ' ms)' if fastest else '-'}</td>"
                    f"<td>{total:.1f}</td><td class={'pass' if rep.get('passed') else 'fail'}>"
                    f"{'pass' if rep.get('passed') else 'FAIL'}</td></tr>")
    return ("<table><tr><th class=l>run</th><th>Keras quality</th><th>artifacts</th><th class=l>smallest</th>"
            f"<th class=l>fastest</th><th>total s</th><th>gates</th></tr>{''.join(rows)}</table>")


def render_html(runs: list[tuple[str, dict]]) -> str:
    """The page for one run (`[(label, report)]`) or several side by side."""
    title = (f"tflite-edge report: {runs[0][0]}" if len(runs) == 1
             else f"tflite-edge: {len(runs)} runs compared")
    points = pareto_points(runs)
    svg = pareto_svg(points, pareto_front(points), runs[0][0] if len(runs) == 1 else "runs compared")
    plot = (f"<figure>{svg}<figcaption class=muted>Up and left is better; the dashed line joins the "
            "artifacts nothing else beats on both latency and quality.</figcaption></figure>") if svg else \
        "<p class=muted>nothing to plot: no artifact has both a quality score and a latency</p>"
    body = [f"<h1>{escape(title)}</h1>", "<h2>Quality vs latency</h2>", plot]
    if len(runs) > 1:
        body += ["<h2>Runs</h2>", _summary_table(runs)]
    body += [_run_section(label, rep) for label, rep in runs]
    env = runs[0][1].get("environment") or {}
    if env:
        body.append("<p class=muted>" + escape(", ".join(f"{k} {v}" for k, v in env.items())) + "</p>")
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report_html(rep: dict, path: Path) -> str:
    """Write one run's report.html atomically; returns the file name (relative to the run dir)."""
    atomic.write_text(Path(path), render_html([(rep.get("name", "run"), rep)]))
    return Path(path).name


def load_run_report(run_dir: Path) -> dict:
    """report.json of a finished run, or a one-line error saying what to do."""
    run_dir = Path(run_dir)
    p = run_dir / "report.json" if run_dir.is_dir() else run_dir
    if not p.is_file():
        raise UserInputError(f"{run_dir}: no report.json; give a run directory whose run finished "
                             "(tflite-edge run RECIPE --out DIR)")
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UserInputError(f"{p}: not valid JSON; rerun the report stage (tflite-edge run RECIPE "
                             "--out DIR --from report)") from None
    if not isinstance(rep, dict) or not isinstance(rep.get("artifacts"), list):
        raise UserInputError(f"{p}: not a tflite-edge report (no 'artifacts' list)")
    return rep


def compare_runs(run_dirs: list[Path], out: Path) -> Path:
    """Write one page comparing the runs in `run_dirs`; labels are the run directory names."""
    runs, seen = [], {}
    for d in run_dirs:
        rep = load_run_report(d)
        label = Path(d).resolve().name if Path(d).is_dir() else rep.get("name", str(d))
        seen[label] = seen.get(label, 0) + 1
        runs.append((label if seen[label] == 1 else f"{label} ({seen[label]})", rep))
    atomic.write_text(out, render_html(runs))
    return out
