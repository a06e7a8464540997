"""`tflite-edge schema`: the recipe JSON Schema (editor completion)."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("schema", help="print the recipe JSON Schema (for editor completion)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..recipe import Recipe

    print(json.dumps(Recipe.model_json_schema(), indent=2))
    return 0
