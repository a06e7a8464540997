"""The recipe rules of task: classification (TensorFlow-free: the schema runs them at `validate`).

Called by the Recipe's cross-field check after the rules every task shares; each raises
ValueError with the fix-it message pydantic shows.
"""
from __future__ import annotations

from ...recipe.data import DETECTION_DATASETS
from ...recipe.optimize import step_tag
from ...recipe.train import TeacherSpec


def check(r) -> None:
    if r.data.dataset in DETECTION_DATASETS:
        raise ValueError(f"data.dataset: '{r.data.dataset}' is a detection dataset; set task: detection "
                         "and a detector: (e.g. detector: {name: ssdlite})")
    if r.detector is not None:
        raise ValueError("detector: only for task: detection; remove it or set task: detection")
    if r.evaluate.min_keras_map50 is not None or r.evaluate.max_map50_drop is not None:
        raise ValueError("evaluate: map50 gates are for task: detection; use the accuracy gates")
    if r.train.freeze_backbone_epochs > r.train.epochs:
        raise ValueError(f"train.freeze_backbone_epochs: {r.train.freeze_backbone_epochs} is more than "
                         f"train.epochs ({r.train.epochs}); the frozen epochs are part of epochs")
    if r.teacher is not None:
        if r.teacher.box_weight != TeacherSpec.model_fields["box_weight"].default:
            raise ValueError("teacher.box_weight: only for task: detection; remove it")
        for i, src in enumerate(r.teacher.sources):
            if src.detector is not None:
                raise ValueError(f"teacher.sources[{i}].detector: only for task: detection; remove it")
    _check_search(r)
    _check_adaptive(r)


def _check_search(r) -> None:
    if r.search is None:
        return
    if r.model.name != "mobilenet_v2":
        raise ValueError(f"search: varies the mobilenet_v2 backbone; set model.name: mobilenet_v2 "
                         f"(got '{r.model.name}')")
    if r.data.validation_fraction <= 0:
        raise ValueError("search: trials are scored on the validation split, never the test split; "
                         "set data.validation_fraction > 0, e.g. 0.1")


def _check_adaptive(r) -> None:
    a = r.adaptive
    if a is None:
        return
    if "prune_channels" in [step_tag(s) for s in r.optimize]:
        raise ValueError("adaptive: prune_channels rebuilds the backbone without the exits; use prune, "
                         "cluster or qat with adaptive:, or remove adaptive:")
    if r.search is not None:
        raise ValueError("adaptive: search trials build plain classifiers; remove search: or adaptive:")
    if a.needs_validation and r.data.validation_fraction <= 0:
        raise ValueError("adaptive.threshold: auto picks thresholds on the validation split, never the test "
                         "split; set data.validation_fraction > 0 (e.g. 0.1) or give a threshold")
