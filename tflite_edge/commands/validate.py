"""`tflite-edge validate RECIPE...`: check recipes without running anything (no TensorFlow)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("validate", help="check recipes without running anything")
    p.add_argument("recipes", nargs="+")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..recipe import load_recipe

    for path in args.recipes:
        r = load_recipe(path, args.set)
        print(f"{path}: ok ({r.model.name} on {r.data.dataset}, {len(r.optimize)} optimization(s), "
              f"formats {', '.join(r.convert.formats)})")
    return 0
