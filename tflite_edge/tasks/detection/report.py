"""Detection report: the same report.json shape as classification (so latency plots, HTML and
tooling keep working), with `keras.map`/`keras.map50`, per-artifact `map`/`map50`, the output
order apps must read, the counts of repaired or skipped annotations, and with a teacher the
distillation settings and each teacher's mAP (`distillation`)."""
from __future__ import annotations

from ... import overview
from ...reporting import collect_artifacts, fmt_ms, gates_and_stages_markdown, report_envelope, teacher_origin


def build_report(ctx) -> dict:
    ev = ctx.outputs("evaluate")
    artifacts = collect_artifacts(ctx, ev, lambda s: {"accuracy": None, "agreement_with_keras": None,
                                                      "map": s.get("map"), "map50": s.get("map50")})
    build = ctx.outputs("build")
    data = {"train_images": build.get("train_images"), "test_images": build.get("test_images"),
            "annotation_fixes": ev.get("data_counts", {})}
    extra = {"data": data}
    distillation = ctx.outputs("train").get("distillation")
    if distillation is not None:
        extra["distillation"] = distillation
    return report_envelope(ctx, "detection", {**ev["keras"], "params": build["params"]}, artifacts,
                           ev["gates"], **extra)


def _num(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def render_markdown(rep: dict) -> str:
    k = rep["keras"]
    lines = [f"# tflite-edge report: {rep['name']} (detection)", "", *overview.markdown(rep),
             f"Keras model: COCO mAP@[.5:.95] {_num(k['map'])}, mAP@.5 {_num(k['map50'])} on "
             f"{k['test_samples']} test images, {k['params']:,} parameters.", ""]
    kd = rep.get("distillation")
    if kd:
        lines += [f"Distilled (T {kd['temperature']:g}, alpha {kd['alpha']:g}, beta {kd['beta']:g}, "
                  f"box_weight {kd['box_weight']:g}) from:", ""]
        for t in kd["teachers"]:
            what = (f"{t['model']} (width {t['width']:g}) {t['detector']}, trained in the run for {t['epochs']} "
                    "epochs" if t["source"] == "trained_in_run" else f"{teacher_origin(t)} ({t['model']})")
            lines.append(f"- teacher {t['index']}: {what}, weight {t['weight']:.2f}, {t['params']:,} parameters: "
                         f"mAP {_num(t['map'])}, mAP@.5 {_num(t['map50'])}")
        lines.append("")
    fixes = rep["data"]["annotation_fixes"]
    if fixes:
        lines += ["Annotations repaired or skipped: " + ", ".join(f"{n} {c}" for n, c in sorted(fixes.items())), ""]
    targets = sorted({t for a in rep["artifacts"] for t in a["benchmark"]})
    head = "| artifact | format | outputs | size (bytes) | mAP | mAP@.5 |" + "".join(f" {t} p50 ms |" for t in targets)
    lines += [head, "|" + "---|" * (6 + len(targets))]
    for a in rep["artifacts"]:
        row = (f"| {a['name']} | {a['format']} | {a.get('detection_outputs', '-')} | {a['size_bytes']:,} | "
               f"{_num(a['map'])} | {_num(a['map50'])} |")
        row += "".join(" error |" if "error" in a["benchmark"].get(t, {}) else
                       f" {fmt_ms(a['benchmark'].get(t, {}).get('latency_ms_p50'))} |" for t in targets)
        lines.append(row)
    pp = next((a for a in rep["artifacts"] if a.get("detection_outputs") == "postprocess"), None)
    if pp:
        lines += ["", f"Four-output models: outputs in index order are {', '.join(pp['output_order'])} "
                  "(read them by name, not by position)."]
    return "\n".join(lines + gates_and_stages_markdown(rep)) + "\n"
