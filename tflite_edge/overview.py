"""What the pipeline did, shown first in every report: the trained model before `optimize:` as the
baseline, each artifact against it, and what the dataset check found.

Baseline size is that of a float32 TFLite of the trained model (optimize measures it; without
`optimize:` the trained model is the final one and its float32 artifact is used), so "11.5x
smaller" compares like with like: TFLite bytes before and after compression and quantization.
"""
from __future__ import annotations

from html import escape
from typing import List, Optional

QUALITY = ("accuracy", "map50")  # classification, detection


def baseline(ctx, keras: dict, artifacts: list) -> Optional[dict]:
    """report.json's `baseline`; adds `vs_baseline` to each artifact. None when nothing measured it."""
    opt = ctx.outputs("optimize")
    measured = opt.get("baseline")
    if measured is not None:
        base = {k: measured.get(k) for k in (*QUALITY, "size_bytes", "gzip_bytes")}
        base["size_of"] = "float32 TFLite of the trained model, measured before optimize"
    else:
        f32 = next((a for a in artifacts if a.get("format") == "float32"), None)
        base = {k: keras.get(k) for k in QUALITY}
        base.update(size_bytes=f32 and f32["size_bytes"], gzip_bytes=f32 and f32["gzip_bytes"],
                    size_of=f"{f32['name']} (no optimize: the trained model converted as it is)" if f32 else None)
    base = {"model": ctx.outputs("train").get("model"), **{k: v for k, v in base.items() if v is not None}}
    for a in artifacts:
        vs = {}
        for key, name in (("size_bytes", "size_x"), ("gzip_bytes", "gzip_x")):
            if base.get(key) and a.get(key):
                vs[name] = base[key] / a[key]  # times smaller than the trained model
        for q in QUALITY:
            if base.get(q) is not None and a.get(q) is not None:
                vs[f"{q}_drop"] = base[q] - a[q]
        a["vs_baseline"] = vs
    return base


def _quality(d: dict):
    q = next((k for k in QUALITY if d.get(k) is not None), None)
    return q, d.get(q) if q else None


def _rows(rep: dict) -> List[list]:
    """[name, quality, size, gzip, gzip x, quality change] for the baseline, then every artifact."""
    base = rep["baseline"]
    q, base_q = _quality(base)
    rows = [["trained model (baseline)", base_q, base.get("size_bytes"), base.get("gzip_bytes"), 1.0, None]]
    for a in rep["artifacts"]:
        vs = a.get("vs_baseline") or {}
        rows.append([a["name"], a.get(q) if q else None, a.get("size_bytes"), a.get("gzip_bytes"), vs.get("gzip_x"),
                     0.0 - vs[f"{q}_drop"] if q and f"{q}_drop" in vs else None])
    return rows


def _cells(row, q) -> List[str]:
    name, quality, size, gz, x, change = row
    pct = (lambda v: f"{100 * v:.2f}%") if q == "accuracy" else (lambda v: f"{v:.4f}")
    return [name, "-" if quality is None else pct(quality), "-" if size is None else f"{size:,}",
            "-" if gz is None else f"{gz:,}", "-" if x is None else f"{x:.1f}x",
            "-" if change is None else (f"{100 * change:+.2f} pt" if q == "accuracy" else f"{change:+.4f}")]


def _check_text(dc: dict) -> str:
    text = f"Images checked before training: {dc['images']:,}, {dc['bad']} could not be used"
    if not dc["bad"]:
        return text + "."
    shown = "; ".join(f"{b['path']} ({b['reason']})" for b in dc["bad_files"][:5])
    return (text + f"; skipped (data.bad_images: skip): {dc['skipped']}. " + f"Skipped files: {shown}"
            + (f"; and {dc['bad'] - 5} more (report.json data_check)" if dc["bad"] > 5 else "") + ".")


def markdown(rep: dict) -> List[str]:
    """report.md's first section."""
    lines = []
    if rep.get("baseline"):
        q, _ = _quality(rep["baseline"])
        label = "accuracy" if q == "accuracy" else "mAP@.5"
        lines += ["## Against the trained model (baseline, before optimize)", "",
                  f"| model | {label} | size (bytes) | gzip (bytes) | smaller (gzip) | {label} change |",
                  "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(_cells(r, q)) + " |" for r in _rows(rep)]
        lines.append("")
    if rep.get("data_check"):
        lines += [_check_text(rep["data_check"]), ""]
    return lines


def html(rep: dict, sub: str = "h3") -> str:
    """report.html's first section."""
    out = ""
    if rep.get("baseline"):
        q, _ = _quality(rep["baseline"])
        label = "accuracy" if q == "accuracy" else "mAP@.5"
        head = "".join(f"<th{' class=l' if i == 0 else ''}>{h}</th>" for i, h in enumerate(
            ["model", label, "size (bytes)", "gzip (bytes)", "smaller (gzip)", f"{label} change"]))
        body = "".join("<tr>" + "".join(f"<td{' class=l' if i == 0 else ''}>{escape(c)}</td>"
                                        for i, c in enumerate(_cells(r, q))) + "</tr>" for r in _rows(rep))
        out += f"<{sub}>Against the trained model (baseline, before optimize)</{sub}><table><tr>{head}</tr>{body}</table>"
    if rep.get("data_check"):
        out += f"<p>{escape(_check_text(rep['data_check']))}</p>"
    return out
