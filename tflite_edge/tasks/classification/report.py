"""Classification report: accuracy and top-1 agreement with Keras per artifact, the teachers."""
from __future__ import annotations

from ... import overview
from ...reporting import (collect_artifacts, fmt_ms, fmt_pct, gates_and_stages_markdown, report_envelope,
                          teacher_origin)


def build_report(ctx) -> dict:
    ev = ctx.outputs("evaluate")
    artifacts = collect_artifacts(ctx, ev, lambda s: {"accuracy": s.get("accuracy"),
                                                      "agreement_with_keras": s.get("agreement_with_keras")})
    distillation = ctx.outputs("train").get("distillation")
    extra = {"distillation": distillation} if distillation is not None else {}
    source = ctx.outputs("build").get("source_model")
    if source is not None:  # model.path: every artifact is judged against the user's own model
        extra["source_model"] = {**source, "accuracy_drop_of_keras": source["accuracy"] - ev["keras"]["accuracy"]}
    if ev.get("cascades"):  # adaptive: the cascades beside the full models (adaptive/report.py)
        from .adaptive.report import build_section

        bench = ctx.outputs("benchmark")["by_artifact"] if "benchmark" in ctx.manifest["stages"] else {}
        extra["adaptive"] = build_section(ctx, ev, bench)
    return report_envelope(ctx, "classification", {**ev["keras"], "params": ctx.outputs("build")["params"]},
                           artifacts, ev["gates"], **extra)


def render_markdown(rep: dict) -> str:
    lines = [f"# tflite-edge report: {rep['name']}", "", *overview.markdown(rep),
             f"Keras model: accuracy {fmt_pct(rep['keras']['accuracy'])} on {rep['keras']['test_samples']} test "
             f"images, {rep['keras']['params']:,} parameters.", ""]
    src = rep.get("source_model")
    if src:
        lines += [f"Your model ({src['path']}): accuracy {fmt_pct(src['accuracy'])} on the same test images; "
                  "each artifact's accuracy below compares with it.", ""]
    kd = rep.get("distillation")
    if kd:
        lines += [f"Distilled (T {kd['temperature']:g}, alpha {kd['alpha']:g}, beta {kd['beta']:g}) from:", ""]
        for t in kd["teachers"]:
            what = (f"{t['model']} (width {t['width']:g}), trained in the run for {t['epochs']} epochs"
                    if t["source"] == "trained_in_run" else f"{teacher_origin(t)} ({t['model']})")
            lines.append(f"- teacher {t['index']}: {what}, weight {t['weight']:.2f}, {t['params']:,} parameters: "
                         f"accuracy {fmt_pct(t['accuracy'])}")
        lines.append("")
    targets = sorted({t for a in rep["artifacts"] for t in a["benchmark"]})
    head = "| artifact | format | size (bytes) | gzip (bytes) | accuracy | agreement |"
    head += "".join(f" {t} p50 ms | {t} p90 ms |" for t in targets)
    lines += [head, "|" + "---|" * (6 + 2 * len(targets))]
    for a in rep["artifacts"]:
        row = (f"| {a['name']} | {a['format']} | {a['size_bytes']:,} | {a['gzip_bytes']:,} | "
               f"{fmt_pct(a['accuracy'])} | {fmt_pct(a['agreement_with_keras'])} |")
        for t in targets:
            b = a["benchmark"].get(t, {})
            row += (" error |  |" if "error" in b else
                    f" {fmt_ms(b.get('latency_ms_p50'))} | {fmt_ms(b.get('latency_ms_p90'))} |")
        lines.append(row)
    errors = [(a["name"], t, b["error"]) for a in rep["artifacts"] for t, b in a["benchmark"].items() if "error" in b]
    if errors:
        lines += ["", "Benchmark errors:", ""] + [f"- {n} on {t}: {e}" for n, t, e in errors]
    if rep.get("adaptive"):
        from .adaptive.report import render_markdown as adaptive_markdown

        lines += adaptive_markdown(rep["adaptive"])
    return "\n".join(lines + gates_and_stages_markdown(rep)) + "\n"
