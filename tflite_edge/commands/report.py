"""`tflite-edge report RUN_DIR...`: a run's report.html, or one page comparing several runs."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("report", help="render report.html of a run, or compare runs side by side")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html for one run, "
                   "compare.html for several)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report_html import compare_runs, load_run_report, write_report_html

    if len(args.run_dirs) == 1 and args.out is None:
        rep = load_run_report(Path(args.run_dirs[0]))
        out = Path(args.run_dirs[0]) / "report.html"
        write_report_html(rep, out)
    else:
        out = compare_runs([Path(d) for d in args.run_dirs], Path(args.out or "compare.html"))
    print(f"report: {out}")
    return 0
