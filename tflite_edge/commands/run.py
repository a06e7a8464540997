"""`tflite-edge run RECIPE`: run or resume a recipe's stages, then a one-line summary per artifact."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("run", help="run a recipe: build, train, optimize, convert, evaluate, benchmark")
    p.add_argument("recipe")
    p.add_argument("--out", help="run directory (default runs/NAME); rerunning resumes it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.epochs=3")
    p.add_argument("--from", dest="from_stage", metavar="STAGE", help="redo STAGE and the stages after it")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..recipe import load_recipe

    recipe = load_recipe(args.recipe, args.set)
    out = Path(args.out) if args.out else Path("runs") / recipe.name
    from ..run import run_recipe

    from ..tasks import task_for

    rep = run_recipe(recipe, out, from_stage=args.from_stage)
    print(f"report: {out / 'report.json'}  ({out / 'report.md'})")
    task = task_for(recipe)
    for a in rep["artifacts"]:
        host = a["benchmark"].get("host", {})
        p50 = host.get("latency_ms_p50")
        print(f"  {a['name']:<32} {a['size_bytes']:>10,} B  {task.artifact_score_text(a)}"
              + (f"  p50 {p50:.3f} ms" if p50 is not None else ""))
    return 0
