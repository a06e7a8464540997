"""The Recipe root model and the rules that span its sections."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, model_validator

from ..formats import formats_for
from ..tasks import TASK_NAMES, rules_for
from .adaptive import AdaptiveSpec
from .artifacts import BenchmarkSpec, ConvertSpec, EvaluateSpec
from .base import Spec
from .data import DataSpec
from .mixed import check_mixed
from .model import DetectorSpec, ModelSpec
from .optimize import OptimizeStep, step_tag
from .search import SearchSpec
from .train import TeacherSpec, TrainSpec

STAGES = ("build", "train", "optimize", "convert", "evaluate", "benchmark", "report")


class Recipe(Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    seed: int = Field(0, ge=0)
    task: Literal[TASK_NAMES] = "classification"
    data: DataSpec
    model: ModelSpec
    detector: Optional[DetectorSpec] = None
    teacher: Optional[TeacherSpec] = None
    train: TrainSpec = TrainSpec()
    optimize: List[OptimizeStep] = []
    convert: ConvertSpec = ConvertSpec()
    evaluate: EvaluateSpec = EvaluateSpec()
    benchmark: BenchmarkSpec = BenchmarkSpec()
    search: Optional[SearchSpec] = None
    adaptive: Optional[AdaptiveSpec] = None

    @model_validator(mode="before")
    @classmethod
    def _loaded_models_train_zero_epochs(cls, data):
        # A model from `path` is trained already: train: runs only when asked (0 epochs by default).
        if isinstance(data, dict) and isinstance(data.get("model"), dict) and data["model"].get("path"):
            train = data.get("train") or {}
            if isinstance(train, dict) and "epochs" not in train:
                data = {**data, "train": {**train, "epochs": 0}}
        return data

    @model_validator(mode="after")
    def _cross_field(self):
        names = [step_tag(s) for s in self.optimize]
        if "qat" in names:
            after = [n for n in names[names.index("qat") + 1:]]
            if after:
                raise ValueError(f"optimize: '{after[0]}' after 'qat' is not supported; "
                                 "put qat last (prune -> cluster -> qat)")
        if self.train.strategy and self.teacher is not None:
            raise ValueError("train.strategy: not supported with a teacher yet (distillation runs on "
                             "one device); remove train.strategy or teacher")
        if "cluster" in names and "prune" in names[names.index("cluster"):]:
            raise ValueError("optimize: 'prune' after 'cluster' would break the clusters; "
                             "put prune first (prune -> cluster -> qat)")
        if "prune_channels" in names:
            # the rebuild makes new layers: tfmot wrappers and masks from earlier steps would be lost
            before = [n for n in names[:len(names) - names[::-1].index("prune_channels")] if n != "prune_channels"]
            if before:
                raise ValueError(f"optimize: 'prune_channels' after '{before[0]}' is not supported; put "
                                 "prune_channels first (prune_channels -> prune -> cluster -> qat)")
        rules_for(self.task).check(self)  # the task's own rules (tasks/NAME/rules.py)
        allowed = formats_for(self.task)
        bad = [f for f in self.convert.formats if f not in allowed]
        if bad:
            raise ValueError(f"convert.formats: {bad[0]} is not supported for {self.task}; allowed: "
                             f"{', '.join(allowed)}")
        check_mixed(self)
        return self


def stages_for(recipe: "Recipe") -> tuple:
    """The stages this recipe runs: `search` comes first only when the recipe has `search:`."""
    return (("search",) if recipe.search is not None else ()) + STAGES


