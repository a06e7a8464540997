"""From a YAML file (plus `--set` overrides) to a validated Recipe, and back to YAML."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import List

import yaml
from pydantic import ValidationError

from ..errors import UserInputError
from .error_messages import format_validation_error
from .root import Recipe


class RecipeLoader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float. PyYAML follows YAML 1.1, where a float needs a
    dot (`1.0e-4`); `learning_rate: 1e-4` would otherwise arrive as the string '1e-4'."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _yaml_load(text: str):
    return yaml.load(text, Loader=RecipeLoader)  # noqa: S506 (a SafeLoader subclass: no python tags)


def load_recipe(path: str | Path, overrides: List[str] = ()) -> Recipe:
    """Read, override (`key.path=value`) and validate a recipe; raise UserInputError on any fault."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: recipe file not found; give the path of a .yaml recipe "
                             "(see recipes/)")
    try:
        raw = _yaml_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise UserInputError(f"{path}: not valid YAML (nested too deeply); a recipe is a few levels "
                             "of mappings and lists") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())  # PyYAML's may span lines
        raise UserInputError(f"{path}:{line} not valid YAML ({problem[:200]}); "
                             "fix the syntax") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: a recipe is a YAML mapping with keys such as name, data, model")
    raw = apply_overrides(raw, overrides)
    return validate_dict(raw, source=str(path))


def validate_dict(raw: dict, source: str = "recipe") -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        raise UserInputError(f"{source}: {format_validation_error(e, raw)}") from None


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def apply_overrides(raw: dict, overrides) -> dict:
    """Apply `--set a.b[0].c=value`; values are parsed as YAML scalars/lists (never evaluated)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. --set train.epochs=3")
        parts = [m.group(1) if m.group(1) is not None else int(m.group(2))
                 for m in _SEGMENT.finditer(key)]
        try:
            parsed = _yaml_load(value) if value != "" else ""
        except (yaml.YAMLError, RecursionError):
            raise UserInputError(f"--set {item!r}: value is not valid YAML") from None
        node = raw
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    raise UserInputError(f"--set {key}: no item [{part}] in the recipe")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise UserInputError(f"--set {key}: '{part}' is inside a value, not a section")
                if node.get(part) is None:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise UserInputError(f"--set {key}: no item [{last}] in the recipe")
        elif not isinstance(node, dict):
            raise UserInputError(f"--set {key}: '{last}' is inside a value, not a section")
        if parts == ["model", "path"] and parsed:
            # Your model replaces the recipe's backbone: what described the built one goes with it.
            node = raw["model"] = {k: v for k, v in node.items() if k in _KEPT_WITH_PATH}
        node[last] = parsed
    return raw


_KEPT_WITH_PATH = ("trust_lambda", "mean", "std")


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
