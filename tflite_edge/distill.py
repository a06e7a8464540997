"""Teachers for distillation, the training mode every fit uses when the recipe has a `teacher:`.

This module holds what every task shares: the teacher list of a run (path teachers loaded and
checked first, so a bad file fails before an in-run teacher spends time training; weights
normalised to sum to 1; loaded once per process), safe loading of a path teacher, the settings an
in-run teacher is reused by, and the teachers named by their recipe (`teacher.sources[].recipe`):
run or resumed up to `train` beside the student's run before its stages, then loaded like a
`path` teacher. A teacher's run directory sits beside the student's, named as `tflite-edge run`
names it (runs/fashion_mnist_compress -> runs/fashion_mnist_teacher), so a teacher run by hand
before is found and resumed, not trained again. A `model:` teacher is trained in the run, or
reused, by `train_teacher`; the loss, the checks of a teacher's outputs and what a `model:` teacher
is (its recipe and builder) belong to the task (tasks/*/distill.py).

>>> [(teacher, weight) for teacher, weight in teachers(ctx)]       # doctest: +SKIP
"""
from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import List, Tuple

from .errors import UserInputError

_TEACHERS = weakref.WeakKeyDictionary()  # ctx -> [(teacher model, weight)], loaded once per process


def teacher_meta(ctx, source) -> dict:
    """What an in-run teacher was trained with; a rerun reuses its checkpoint while this matches."""
    r = ctx.recipe
    epochs = r.train.epochs if source.epochs is None else source.epochs  # 0 is a valid choice
    return {"model": source.model.model_dump(mode="json"), "epochs": epochs,
            "seed": r.seed, "data": r.data.model_dump(mode="json"),
            "train": r.train.model_dump(mode="json", exclude={"early_stopping", "tensorboard"})}


def train_teacher(ctx, i: int, meta: dict, t_recipe, build, what: str):
    """`teacher.sources[i].model`, trained in the run by the one fit with `t_recipe` (the task's
    teacher recipe), or reused: checkpoints/teacher_{i}.keras while the `meta` saved beside it
    (`teacher_meta`, plus what the task adds) matches. `build()` makes the untrained model (seeded
    per teacher); `what` names it in the log."""
    from . import atomic, compat
    from .fit import fit_model

    rel = f"checkpoints/teacher_{i}.keras"
    meta_path = ctx.path(f"checkpoints/teacher_{i}.json")
    if ctx.path(rel).exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        ctx.log(f"  teacher {i}: reusing {rel}")
        return ctx.load_model(rel)
    compat.keras().utils.set_random_seed(ctx.recipe.seed + 7919 * (i + 1))
    model = build()
    epochs = t_recipe.train.epochs
    ctx.log(f"  teacher {i}: training {what} for {epochs} epochs")
    fit_model(ctx, model, epochs, ctx.recipe.train.learning_rate, f"teacher_{i}", recipe=t_recipe)
    ctx.save_model(model, rel)
    atomic.write_json(meta_path, meta)
    return model


def load_path_teacher(ctx, i: int, source, num_classes: int, check):
    """`teacher.sources[i].path` loaded in safe mode, then `check(model, where, ctx, num_classes)`."""
    from .model_io import load_keras_model

    where = f"teacher.sources[{i}].{'recipe' if source.recipe else 'path'}"
    try:
        model = load_keras_model(Path(source.path), trust_lambda=source.trust_lambda)
    except UserInputError as e:
        msg = str(e)
        if "Lambda" in msg:
            msg = (f"{source.path}: contains a Lambda layer (arbitrary code); refused. Set "
                   f"teacher.sources[{i}].trust_lambda: true only if you trust the file")
        raise UserInputError(f"{where}: {msg}") from None
    check(model, where, ctx, num_classes)
    return model


def teachers(ctx) -> List[tuple]:
    """[(teacher model, normalised weight)] of the run's recipe, in `teacher.sources` order."""
    from .tasks import task_for

    if ctx in _TEACHERS:
        return _TEACHERS[ctx]
    spec, task = ctx.recipe.teacher, task_for(ctx.recipe)
    num_classes = ctx.dataset.num_classes
    loaded = {}
    for i, src in enumerate(spec.sources):
        if src.path is not None:
            loaded[i] = task.load_teacher(ctx, i, src, num_classes)
    for i, teacher in teacher_recipes(ctx.recipe):  # run.py has trained them before this run's stages
        where = f"teacher.sources[{i}].recipe"
        trained = trained_model(teacher_run_dir(ctx.run_dir, teacher), where)
        loaded[i] = task.load_teacher(ctx, i, spec.sources[i].model_copy(update={"path": str(trained)}),
                                      num_classes)
    task.check_teachers(ctx, loaded)
    for i, src in enumerate(spec.sources):
        if src.model is not None:
            loaded[i] = task.train_teacher(ctx, i, src, num_classes)
    total = sum(s.weight for s in spec.sources)
    out = []
    for i, src in enumerate(spec.sources):
        m = loaded[i]
        m.trainable = False
        out.append((m, src.weight / total))
    task.check_teachers(ctx, loaded)
    _TEACHERS[ctx] = out
    return out


# ---------------------------------------------------------------- teachers named by recipe
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


def run_teacher_recipes(recipe, run_dir: Path, run_recipe, log=print, chain: tuple = ()) -> None:
    """Run or resume each `teacher.sources[].recipe` up to its train stage, beside `run_dir`, with
    `run_recipe` (run.run_recipe); `chain`: the recipes teaching through this one (no circles)."""
    for i, teacher in teacher_recipes(recipe):
        if teacher.name in chain + (recipe.name,):
            raise UserInputError(f"teacher.sources[{i}].recipe: '{teacher.name}' teaches itself through "
                                 f"{' -> '.join(chain + (recipe.name, teacher.name))}; break the circle")
        folder = teacher_run_dir(run_dir, teacher)
        log(f"[teacher {teacher.name}: {folder}]")
        try:
            run_recipe(teacher, folder, log=log, until="train", _chain=chain + (recipe.name,))
        except UserInputError as e:
            raise UserInputError(f"teacher.sources[{i}].recipe ({folder}): {e}") from None
