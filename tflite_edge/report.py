"""Stage `report`: report.json (machine-readable), report.md (for people), latency.png and
report.html, from the manifest. The task writes its own content (tasks/*/report.py); the shared
envelope and tables are in reporting.py."""
from __future__ import annotations

from . import atomic
from .reporting import latency_rows


def report(ctx) -> dict:
    from .plots import plot_latency
    from .report_html import write_report_html
    from .tasks import task_for

    task = task_for(ctx.recipe)
    rep = task.build_report(ctx)
    rows = latency_rows(rep)
    outputs = {"report_json": "report.json", "report_md": "report.md", "passed": rep["passed"]}
    markdown = task.render_markdown(rep)
    if any("error" not in r for r in rows):
        with atomic.atomic_path(ctx.path("latency.png")) as tmp:
            plot_latency(rows, tmp, title=f"{rep['name']}: latency per artifact and target")
        outputs["latency_plot"] = "latency.png"
        markdown += "\n![latency per artifact and target](latency.png)\n"
    atomic.write_json(ctx.path("report.json"), rep)
    atomic.write_text(ctx.path("report.md"), markdown)
    outputs["report_html"] = write_report_html(rep, ctx.path("report.html"))
    return outputs
