"""Teachers named by their recipe (`teacher.sources[].recipe`): where their runs live and which
model they hand over. run.py runs or resumes them up to `train` before the student's stages;
distill.py loads the trained model like a `path` teacher.

A teacher's run directory sits beside the student's, named as `tflite-edge run` names it
(runs/fashion_mnist_compress -> runs/fashion_mnist_teacher), so a teacher run by hand before is
found and resumed, not trained again.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

from .errors import UserInputError


def teacher_recipes(recipe) -> List[Tuple[int, object]]:
    """[(source index, validated teacher Recipe)] of the recipe's `recipe:` teachers."""
    from .recipe import load_recipe

    if recipe.teacher is None:
        return []
    out = []
    for i, src in enumerate(recipe.teacher.sources):
        if src.recipe is None:
            continue
        try:
            out.append((i, load_recipe(src.recipe)))
        except UserInputError as e:
            raise UserInputError(f"teacher.sources[{i}].recipe: {e}") from None
    return out


def teacher_run_dir(run_dir: Path, teacher) -> Path:
    """The teacher recipe's run directory, beside the student's."""
    return Path(run_dir).resolve().parent / teacher.name


def trained_model(teacher_run: Path, where: str) -> Path:
    """The model the teacher run's `train` stage saved (from its manifest)."""
    manifest = Path(teacher_run) / "manifest.json"
    try:
        stage = json.loads(manifest.read_text())["stages"]["train"]
        if not stage.get("done"):
            raise KeyError("train")
        return Path(teacher_run) / stage["outputs"]["model"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserInputError(f"{where}: {teacher_run} holds no finished train stage; rerun this recipe to "
                             "train the teacher, or delete that folder") from None
