"""Stage `report`: report.json (machine-readable) and report.md (for people) from the manifest."""
from __future__ import annotations

import platform
from importlib import metadata

from . import atomic


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine(), "system": platform.system()}
    for pkg in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _inside_tflite(path) -> dict:
    """Sparsity and distinct values per output channel of the Conv/FC weights, read from the file
    itself: proof that pruning and clustering survived conversion."""
    from .tflite_inspect import summarize

    try:
        return summarize(path)
    except Exception as e:  # a report must not fail on an unreadable artifact; say why instead
        return {"error": f"{type(e).__name__}: {str(e)[:120]}"}


def build_report(ctx) -> dict:
    if ctx.recipe.task == "detection":
        from .detect.report import build_report as detection_report
        return detection_report(ctx)
    ev = ctx.outputs("evaluate")
    artifacts = collect_artifacts(ctx, ev, lambda s: {"accuracy": s.get("accuracy"),
                                                      "agreement_with_keras": s.get("agreement_with_keras")})
    distillation = ctx.outputs("train").get("distillation")
    extra = {"distillation": distillation} if distillation is not None else {}
    return report_envelope(ctx, "classification", {**ev["keras"], "params": ctx.outputs("build")["params"]},
                           artifacts, ev["gates"], **extra)


def collect_artifacts(ctx, ev: dict, task_scores) -> list:
    """Every converted artifact with its task's scores (`task_scores(evaluate_entry) -> dict`), what
    its .tflite holds (sparsity, distinct values) and its benchmark results."""
    bench = ctx.outputs("benchmark")["by_artifact"] if "benchmark" in ctx.manifest["stages"] else {}
    scores = {a["name"]: a for a in ev["artifacts"]}
    artifacts = []
    for art in ctx.outputs("convert")["artifacts"]:
        inside = _inside_tflite(ctx.path(art["path"]))
        artifacts.append({**art, **task_scores(scores.get(art["name"], {})),
                          "tflite_sparsity": inside.get("sparsity"),
                          "tflite_unique_values": inside.get("unique_values_per_channel_max"),
                          "tflite_weights": inside,
                          "benchmark": bench.get(art["name"], {})})
    return artifacts


def report_envelope(ctx, task: str, keras: dict, artifacts: list, gates: list, **extra) -> dict:
    """The report.json fields every task shares; `extra` (e.g. detection's data counts) follows keras."""
    stages = ctx.manifest["stages"]
    return {
        "name": ctx.recipe.name,
        "task": task,
        "keras": keras,
        **extra,
        "optimize": ctx.outputs("optimize").get("steps", []),
        "stages": [{"name": n, "seconds": round(s["seconds"], 3)} for n, s in stages.items() if s.get("done")],
        "gates": gates,
        "passed": all(g["passed"] for g in gates),
        "artifacts": artifacts,
        "recipe": ctx.recipe.model_dump(mode="json"),
        "environment": _versions(),
    }


def _ms(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def render_markdown(rep: dict) -> str:
    if rep.get("task") == "detection":
        from .detect.report import render_markdown as detection_markdown
        return detection_markdown(rep)
    lines = [f"# tflite-edge report: {rep['name']}", "",
             f"Keras model: accuracy {_pct(rep['keras']['accuracy'])} on {rep['keras']['test_samples']} test "
             f"images, {rep['keras']['params']:,} parameters.", ""]
    kd = rep.get("distillation")
    if kd:
        lines += [f"Distilled (T {kd['temperature']:g}, alpha {kd['alpha']:g}, beta {kd['beta']:g}) from:", ""]
        for t in kd["teachers"]:
            what = (f"{t['model']} (width {t['width']:g}), trained in the run for {t['epochs']} epochs"
                    if t["source"] == "trained_in_run" else f"{t['path']} ({t['model']})")
            lines.append(f"- teacher {t['index']}: {what}, weight {t['weight']:.2f}, {t['params']:,} parameters: "
                         f"accuracy {_pct(t['accuracy'])}")
        lines.append("")
    targets = sorted({t for a in rep["artifacts"] for t in a["benchmark"]})
    head = "| artifact | format | size (bytes) | gzip (bytes) | accuracy | agreement |"
    head += "".join(f" {t} p50 ms | {t} p90 ms |" for t in targets)
    lines += [head, "|" + "---|" * (6 + 2 * len(targets))]
    for a in rep["artifacts"]:
        row = (f"| {a['name']} | {a['format']} | {a['size_bytes']:,} | {a['gzip_bytes']:,} | "
               f"{_pct(a['accuracy'])} | {_pct(a['agreement_with_keras'])} |")
        for t in targets:
            b = a["benchmark"].get(t, {})
            row += (f" error |  |" if "error" in b else f" {_ms(b.get('latency_ms_p50'))} | {_ms(b.get('latency_ms_p90'))} |")
        lines.append(row)
    errors = [(a["name"], t, b["error"]) for a in rep["artifacts"] for t, b in a["benchmark"].items() if "error" in b]
    if errors:
        lines += ["", "Benchmark errors:", ""] + [f"- {n} on {t}: {e}" for n, t, e in errors]
    return "\n".join(lines + gates_and_stages_markdown(rep)) + "\n"


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


def report(ctx) -> dict:
    from .bench.plot import plot_latency

    rep = build_report(ctx)
    rows = latency_rows(rep)
    outputs = {"report_json": "report.json", "report_md": "report.md", "passed": rep["passed"]}
    markdown = render_markdown(rep)
    if any("error" not in r for r in rows):
        with atomic.atomic_path(ctx.path("latency.png")) as tmp:
            plot_latency(rows, tmp, title=f"{rep['name']}: latency per artifact and target")
        outputs["latency_plot"] = "latency.png"
        markdown += "\n![latency per artifact and target](latency.png)\n"
    atomic.write_json(ctx.path("report.json"), rep)
    atomic.write_text(ctx.path("report.md"), markdown)
    from .report_html import write_report_html

    outputs["report_html"] = write_report_html(rep, ctx.path("report.html"))
    return outputs
