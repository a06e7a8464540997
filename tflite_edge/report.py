"""Stage `report`: report.json (machine-readable), report.md (for people), latency.png and
report.html, from the manifest. The task writes its own content (tasks/*/report.py); the shared
envelope and tables are in reporting.py."""
from __future__ import annotations

import json

from . import atomic
from .recommend import int8_warnings, recommend
from .recommend import markdown as choice_markdown
from .reporting import latency_rows


def add_choices(ctx, rep: dict) -> None:
    """What the measurements decide: the recommended artifact per target, warnings where int8 does
    not pay off, and the mixed-precision search (candidates for the plot), into report.json."""
    rep["recommended"] = recommend(rep)
    rep["warnings"] = int8_warnings(rep)
    for w in rep["warnings"]:
        ctx.log(f"  warning: {w}")
    search_file = ctx.path("mixed_search.json")
    if any(a.get("mixed") for a in rep["artifacts"]) and search_file.is_file():
        search = json.loads(search_file.read_text())
        rep["mixed_search"] = {k: search[k] for k in ("engine", "target", "max_accuracy_drop", "met", "chosen",
                                                      "candidates_timed", "wall_s", "float_val_accuracy", "drop_confidence", "margin_method",
                                                      "sensitivity", "candidates", "notes") if k in search}


def report(ctx) -> dict:
    from .plots import plot_latency
    from .report_html import write_report_html
    from .tasks import task_for

    task = task_for(ctx.recipe)
    rep = task.build_report(ctx)
    add_choices(ctx, rep)
    rows = latency_rows(rep)
    outputs = {"report_json": "report.json", "report_md": "report.md", "passed": rep["passed"]}
    markdown = task.render_markdown(rep) + "\n".join(choice_markdown(rep)) + "\n"
    if any("error" not in r for r in rows):
        with atomic.atomic_path(ctx.path("latency.png")) as tmp:
            plot_latency(rows, tmp, title=f"{rep['name']}: latency per artifact and target")
        outputs["latency_plot"] = "latency.png"
        markdown += "\n![latency per artifact and target](latency.png)\n"
    atomic.write_json(ctx.path("report.json"), rep)
    atomic.write_text(ctx.path("report.md"), markdown)
    outputs["report_html"] = write_report_html(rep, ctx.path("report.html"))
    return outputs
