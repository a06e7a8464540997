"""What every task's report shares: the report.json envelope, per-artifact rows, markdown tables."""
from __future__ import annotations

import platform
from importlib import metadata


def versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine(), "system": platform.system()}
    for pkg in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def inside_tflite(path) -> dict:
    """Sparsity and distinct values per output channel of the Conv/FC weights, read from the file
    itself: proof that pruning and clustering survived conversion."""
    from .tflite_inspect import summarize

    try:
        return summarize(path)
    except Exception as e:  # a report must not fail on an unreadable artifact; say why instead
        return {"error": f"{type(e).__name__}: {str(e)[:120]}"}


def collect_artifacts(ctx, ev: dict, task_scores) -> list:
    """Every converted artifact with its task's scores (`task_scores(evaluate_entry) -> dict`), what
    its .tflite holds (sparsity, distinct values) and its benchmark results."""
    bench = ctx.outputs("benchmark")["by_artifact"] if "benchmark" in ctx.manifest["stages"] else {}
    scores = {a["name"]: a for a in ev["artifacts"]}
    artifacts = []
    for art in ctx.outputs("convert")["artifacts"]:
        inside = inside_tflite(ctx.path(art["path"]))
        artifacts.append({**art, **task_scores(scores.get(art["name"], {})),
                          "tflite_sparsity": inside.get("sparsity"),
                          "tflite_unique_values": inside.get("unique_values_per_channel_max"),
                          "tflite_weights": inside,
                          "benchmark": bench.get(art["name"], {})})
    return artifacts


def report_envelope(ctx, task: str, keras: dict, artifacts: list, gates: list, **extra) -> dict:
    """The report.json fields every task shares; `extra` (e.g. detection's data counts) follows keras."""
    from . import overview
    from .data.check import summary

    stages = ctx.manifest["stages"]
    base, checked = overview.baseline(ctx, keras, artifacts), summary(ctx.run_dir)
    return {
        "name": ctx.recipe.name,
        "task": task,
        "keras": keras,
        **({"baseline": base} if base else {}),  # the trained model before optimize; artifacts' vs_baseline
        **({"data_check": checked} if checked else {}),  # data/check.py: images checked, bad, skipped
        **extra,
        "optimize": ctx.outputs("optimize").get("steps", []),
        "stages": [{"name": n, "seconds": round(s["seconds"], 3)} for n, s in stages.items() if s.get("done")],
        "gates": gates,
        "passed": all(g["passed"] for g in gates),
        "artifacts": artifacts,
        "recipe": ctx.recipe.model_dump(mode="json"),
        "environment": versions(),
    }


def fmt_ms(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def fmt_pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def gates_and_stages_markdown(rep: dict) -> list:
    """The Gates and Stages tables every task's report.md ends with."""
    lines = []
    if rep["gates"]:
        lines += ["", "## Gates", "", "| gate | value | threshold | result |", "|---|---|---|---|"]
        lines += [f"| {g['name']} | {g['value']:.4f} | {g['threshold']:.4f} | {'pass' if g['passed'] else 'FAIL'} |"
                  for g in rep["gates"]]
    lines += ["", "## Stages", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {s['name']} | {s['seconds']:.1f} |" for s in rep["stages"]]
    return lines


def latency_rows(rep: dict) -> list:
    """One row per artifact, target and configuration, for the latency plot."""
    rows = []
    for a in rep["artifacts"]:
        for target, b in a["benchmark"].items():
            for rec in b.get("sweep", [b]):
                rows.append({**rec, "model": a["name"], "target": rec.get("target", target)})
    return rows


def teacher_origin(t: dict) -> str:
    """Where a saved teacher came from, for report.md: its file, or the recipe that trained it."""
    return t["path"] if t["source"] == "path" else f"recipe {t['recipe']}"
