"""The task interface: everything a stage needs that differs between classification and detection.

A task is stateless; every method takes the run context (`run.RunContext`: recipe, run directory,
dataset, input spec, earlier stages' outputs). `recipe` arguments default to the run's own and are
how a teacher is trained with its own settings.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class FitData:
    """What one fit iterates: training batches, validation batches (or None), steps per epoch."""
    train: Any
    val: Any
    steps_per_epoch: int


class Task(ABC):
    name: str = ""
    # report.json's score keys of an artifact and of the Keras model, higher is better; the first
    # one present is report.html's quality axis (read from report.json without TensorFlow)
    quality_keys: tuple = ()

    # ---- build
    @abstractmethod
    def build(self, ctx) -> dict:
        """Stage `build`: write input_spec.json and labels.txt, save the model; returns outputs."""

    # ---- fit (fit.py calls these; distillation is a mode of the same fit)
    @abstractmethod
    def fit_data(self, ctx, recipe) -> FitData:
        """Training and validation batches for `recipe` (augmented, at the run's input spec)."""

    @abstractmethod
    def compile(self, ctx, model, recipe, optimizer) -> None:
        """Compile `model` with this task's loss and fit metrics (the plain, undistilled fit)."""

    @abstractmethod
    def early_stopping_monitor(self, recipe) -> str:
        """The history key that early stopping watches."""

    def uses_distiller(self, recipe, teacher=None) -> bool:
        """Whether a fit trains through `distiller`: when a teacher teaches."""
        return teacher is not None or recipe.teacher is not None

    def trainer(self, ctx, model, recipe, optimizer, teacher=None):
        """What one fit fits, compiled with `optimizer`: the distiller (`uses_distiller`), else
        `model` itself with the task's loss."""
        if self.uses_distiller(recipe, teacher):
            trainer = self.distiller(ctx, model, recipe, teacher)
            trainer.compile(optimizer=optimizer)
            return trainer
        self.compile(ctx, model, recipe, optimizer)
        return model

    @abstractmethod
    def distiller(self, ctx, model, recipe, teacher=None):
        """A Keras model that trains `model` against teachers when fitted (compile(optimizer) only).

        `teacher` None: the recipe's teachers (distill.teachers); otherwise one (model, settings)
        pair given by the caller (channel pruning distils from the unpruned model)."""

    @abstractmethod
    def load_teacher(self, ctx, index: int, source, num_classes: int):
        """A teacher from `teacher.sources[index].path`, loaded safely and checked."""

    @abstractmethod
    def train_teacher(self, ctx, index: int, source, num_classes: int):
        """A teacher from `teacher.sources[index].model`, trained in the run (or reused)."""

    def check_teachers(self, ctx, loaded: dict) -> None:
        """Checks that need several teachers or the recipe (hint layers); default: none."""

    @abstractmethod
    def distillation_summary(self, ctx) -> dict:
        """What report.json says about the teachers (each one's test score)."""

    def is_side_head_layer(self, layer) -> bool:
        """A layer of a head beside the final one (classification's early exits): transfer learning
        neither counts it in the backbone it freezes nor freezes it; default: none."""
        return False

    # ---- optimize
    @abstractmethod
    def measure(self, ctx, model, name: str) -> dict:
        """Test score, weight statistics and float32 TFLite size of one optimize step's model."""

    @abstractmethod
    def score_text(self, m: dict) -> str:
        """A measurement's score in words for the log ("accuracy 0.9120", "mAP@.5 0.8700")."""

    def artifact_score_text(self, artifact: dict) -> str:
        """An artifact's score in report.json, in words for the run's summary ("acc 98.40%")."""
        return ""

    # Whether `fit.fit_model(..., teacher=(model, settings))` can distil from a model the caller
    # gives (channel pruning's distill_from_unpruned).
    distils_from_given_model: bool = False

    def test_accuracy(self, ctx, model) -> Optional[float]:
        """Top-1 test accuracy where the task has one (channel pruning logs it); default None."""
        return None

    # ---- convert
    @abstractmethod
    def calibration_images(self, ctx) -> Any:
        """`convert.calibration_samples` training images, preprocessed as at inference (ndarray)."""

    @abstractmethod
    def export(self, ctx, model) -> list:
        """Stage `convert`: write every format of `model` to artifacts/; returns artifact dicts."""

    def export_segments(self, ctx, model) -> list:
        """Stage `convert`, adaptive inference: the cascades' segment artifacts (each with its
        `cascade` file and `segment` index); default: none."""
        return []

    # ---- evaluate and report
    @abstractmethod
    def evaluate(self, ctx) -> dict:
        """Stage `evaluate`: score the Keras model and every artifact, and check the gates."""

    @abstractmethod
    def build_report(self, ctx) -> dict:
        """report.json's content for this task."""

    @abstractmethod
    def render_markdown(self, report: dict) -> str:
        """report.md for this task's report.json."""

    def html_sections(self, report: dict) -> str:
        """report.html's sections of this task's own, after the artifacts table (HTML built from
        report.json alone, TensorFlow-free); default: none."""
        return ""
