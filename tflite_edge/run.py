"""A run: the recipe's stages in order, everything in one run directory with a manifest.

manifest.json records each finished stage (its outputs and seconds), so a rerun on the same
directory resumes after the last finished stage and `--from STAGE` redoes a stage and the rest.
A crash loses at most the stage in progress: outputs and the manifest are written atomically.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import time
from functools import cached_property
from pathlib import Path
from typing import Optional

from . import atomic, run_lock
from .errors import GateFailed, UserInputError
from .recipe import Recipe, recipe_to_yaml, stages_for

# stage name -> "module:function"; the YAML key, the module and the function share the name.
# TASK_STAGE: the stage is the task's own method of that name (Task.build, Task.evaluate).
TASK_STAGE = "task"
STAGE_FUNCTIONS = {
    "search": "tflite_edge.search.stage:search",  # only when the recipe has `search:` (recipe.stages_for)
    "build": TASK_STAGE,
    "train": "tflite_edge.train:train",
    "optimize": "tflite_edge.optimize:optimize",
    "convert": "tflite_edge.convert:convert",
    "evaluate": TASK_STAGE,
    "benchmark": "tflite_edge.benchmark:benchmark",
    "report": "tflite_edge.report:report",
}
MANIFEST = "manifest.json"


def stage_function(stage: str, recipe: Recipe):
    """The function that runs `stage` for `recipe`: a stage module's, or the task's own method."""
    if STAGE_FUNCTIONS[stage] == TASK_STAGE:
        from .tasks import task_for

        return getattr(task_for(recipe), stage)
    module, func = STAGE_FUNCTIONS[stage].split(":")
    return getattr(importlib.import_module(module), func)


def recipe_digest(recipe: Recipe) -> str:
    return hashlib.sha256(json.dumps(recipe.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


class RunContext:
    """What every stage gets: the recipe, the run directory, earlier stages' outputs, caches."""

    def __init__(self, recipe: Recipe, run_dir: Path, manifest: dict, log=print):
        self.recipe, self.run_dir, self.manifest, self.log = recipe, Path(run_dir), manifest, log
        self._models = {}
        self.strategy = None  # tf.distribute strategy for `train`, set by run_recipe

    def path(self, rel: str) -> Path:
        p = (self.run_dir / rel).resolve()
        if self.run_dir.resolve() not in p.parents and p != self.run_dir.resolve():
            raise UserInputError(f"{rel}: path escapes the run directory {self.run_dir}")
        return p

    def outputs(self, stage: str) -> dict:
        entry = self.manifest["stages"].get(stage)
        if not entry or not entry.get("done"):
            raise UserInputError(f"stage '{stage}' has not finished in {self.run_dir}; "
                                 f"rerun with --from {stage} or earlier")
        return entry["outputs"]

    @cached_property
    def dataset(self):
        from .data import load_dataset
        from .data.check import check_dataset  # every image file decoded once, before any training

        return check_dataset(load_dataset(self.recipe.data, self.recipe.seed), self.recipe.data, self.run_dir,
                             self.log)

    @cached_property
    def input_spec(self):
        from .models.classifier import InputSpec

        return InputSpec.load(self.path("input_spec.json"))

    def save_model(self, model, rel: str) -> str:
        atomic.save_keras(model, self.path(rel))
        self._models[rel] = model
        return rel

    def load_model(self, rel: str):
        """The model saved at `rel`, from memory when this process saved it (QAT graphs need that)."""
        if rel not in self._models:
            from .optimize import load_checkpoint  # QAT graphs are rebuilt from their weights

            self._models[rel] = load_checkpoint(self, rel)
        return self._models[rel]


def _load_manifest(run_dir: Path) -> Optional[dict]:
    p = run_dir / MANIFEST
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except ValueError:
        raise UserInputError(f"{p}: corrupt manifest; start a new run with another --out") from None


def plan(recipe: Recipe, run_dir: Path, from_stage: Optional[str]) -> tuple[dict, list]:
    """(manifest, stages to run). Refuses to mix two different recipes in one run directory."""
    stages = stages_for(recipe)
    if from_stage is not None and from_stage not in stages:
        from .registry import did_you_mean

        raise UserInputError(f"--from {from_stage}: unknown stage{did_you_mean(from_stage, stages)}; "
                             f"stages: {', '.join(stages)}")
    digest = recipe_digest(recipe)
    manifest = _load_manifest(run_dir)
    if manifest is None:
        if from_stage not in (None, stages[0]):
            raise UserInputError(f"--from {from_stage}: {run_dir} holds no earlier run to resume; "
                                 "drop --from to run every stage")
        return {"recipe_sha256": digest, "stages": {}}, list(stages)
    if manifest.get("recipe_sha256") != digest and from_stage is None:
        raise UserInputError(f"{run_dir}: holds a run of a different recipe; use another --out, or pass "
                             "--from STAGE to redo that stage and the ones after with this recipe")
    start = stages.index(from_stage) if from_stage else next(
        (i for i, s in enumerate(stages) if not manifest["stages"].get(s, {}).get("done")), len(stages))
    for s in stages[start:]:
        manifest["stages"].pop(s, None)
    manifest["recipe_sha256"] = digest
    return manifest, list(stages[start:])


def run_recipe(recipe: Recipe, run_dir: Path, from_stage: Optional[str] = None, log=print,
               until: Optional[str] = None, _chain: tuple = ()) -> Optional[dict]:
    """Run (or resume) the recipe into `run_dir`; returns the final report dict.

    `until` stops after that stage (a teacher recipe runs up to `train`) and returns None.
    Raises GateFailed (exit 3) after writing the report when a quality gate failed, and
    UserInputError (exit 2) at once when another process holds the run directory.
    """
    run_dir = Path(run_dir)
    with run_lock.hold(run_dir):
        return _run_locked(recipe, run_dir, from_stage, log, until, _chain)


def _run_locked(recipe: Recipe, run_dir: Path, from_stage: Optional[str], log, until: Optional[str],
                _chain: tuple) -> Optional[dict]:
    manifest, todo = plan(recipe, run_dir, from_stage)
    if until is not None:
        todo = [s for s in todo if stages_for(recipe).index(s) <= stages_for(recipe).index(until)]
    if {"train", "optimize"} & set(todo):  # the stages that distil: their teachers first
        from .distill import run_teacher_recipes

        run_teacher_recipes(recipe, run_dir, run_recipe, log, _chain)
    atomic.remove_partials(run_dir)  # a kill -9 mid-write leaves its temporary file behind
    atomic.write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))
    ctx = RunContext(recipe, run_dir, manifest, log)
    if not todo:
        log(f"all stages already finished in {run_dir}; use --from STAGE to redo some")
    else:
        from .distribute import enable_determinism, make_strategy

        # First, before anything touches TensorFlow: multi_worker must configure the runtime.
        ctx.strategy = make_strategy(recipe.train.strategy) if "train" in todo else None
        if recipe.train.deterministic:
            enable_determinism()
    for stage in todo:
        log(f"[{stage}]")
        t0 = time.monotonic()
        outputs = stage_function(stage, recipe)(ctx)
        manifest["stages"][stage] = {"done": True, "seconds": time.monotonic() - t0, "outputs": outputs}
        atomic.write_json(run_dir / MANIFEST, manifest)
    if until is not None:
        return None
    report = json.loads((run_dir / "report.json").read_text())
    failed = [g["name"] for g in report["gates"] if not g["passed"]]
    if failed:
        raise GateFailed(f"quality gate(s) failed: {', '.join(failed)} (see {run_dir / 'report.md'})")
    return report
