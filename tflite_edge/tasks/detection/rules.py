"""The recipe rules of task: detection (TensorFlow-free: the schema runs them at `validate`)."""
from __future__ import annotations

from typing import Optional

from ...recipe.base import short_repr
from ...recipe.data import DETECTION_DATASETS
from ...recipe.model import SSD_DEFAULT_MAPS, YOLO_DEFAULT_MAPS, DetectorSpec


def check(r) -> None:
    if r.model.path is not None:
        raise ValueError("model.path: loading your own model is for task: classification; for a detector "
                         "give model.name and model.weights (a pretrained backbone)")
    if r.train.freeze_backbone_epochs:
        raise ValueError("train.freeze_backbone_epochs: classification only for now; remove it")
    if r.data.dataset not in DETECTION_DATASETS:
        raise ValueError(f"data.dataset: '{r.data.dataset}' has no boxes; task: detection needs one of "
                         f"{', '.join(DETECTION_DATASETS)}")
    if r.detector is None:
        raise ValueError("detector: required for task: detection, e.g. detector: {name: ssdlite}")
    if r.teacher is not None:
        _check_teacher(r)
    e = r.evaluate
    if e.min_keras_accuracy is not None or e.max_accuracy_drop is not None or e.max_accuracy_drop_by_format \
            or e.min_agreement is not None:
        raise ValueError("evaluate: accuracy/agreement gates are for classification; for detection use "
                         "min_keras_map50 and max_map50_drop")
    if r.search is not None:
        raise ValueError("search: only for task: classification; remove search:")
    if r.adaptive is not None:
        raise ValueError("adaptive: early exits are for task: classification only; remove adaptive:")
    if r.convert.mixed is not None:
        raise ValueError("convert.mixed: per-layer precision is for task: classification only for now; "
                         "remove convert.mixed")


def _anchor_layout(d: DetectorSpec, size: Optional[int]) -> tuple:
    """(what fixes the anchors, anchor count or None while the input size is unknown); no TensorFlow."""
    from ...models.detection.base import grid_size
    from ...models.detection.yolo import DEFAULT_ANCHORS

    if d.name == "ssdlite":
        maps = tuple(d.feature_maps or SSD_DEFAULT_MAPS)
        per_cell = {f: len(d.aspect_ratios) + 1 for f in maps}
        key = {"feature_maps": list(maps), "min_scale": d.min_scale, "max_scale": d.max_scale,
               "aspect_ratios": list(d.aspect_ratios)}
    else:
        maps = tuple(d.feature_maps or YOLO_DEFAULT_MAPS)
        priors = {f: [list(p) for p in (d.anchors or {}).get(f, DEFAULT_ANCHORS.get(f, [[0.2, 0.2]]))]
                  for f in maps}
        per_cell = {f: len(p) for f, p in priors.items()}
        key = {"feature_maps": list(maps), "anchors": priors}
    count = sum(grid_size(size, f) ** 2 * per_cell[f] for f in maps) if size else None
    return key, count


def _check_teacher(r) -> None:
    """In-run teachers must give the student's raw output layout (distillation compares outputs anchor
    by anchor); file teachers are checked when loaded (distill.py)."""
    if r.teacher.hints:
        raise ValueError("teacher.hints: not supported for task: detection; remove hints")
    size = r.model.input_size or getattr(r.data, "image_size", None)
    s_key, s_count = _anchor_layout(r.detector, size)
    for i, src in enumerate(r.teacher.sources):
        where = f"teacher.sources[{i}]"
        if src.model is None:  # path or recipe: checked when loaded
            if src.detector is not None:
                raise ValueError(f"{where}.detector: a saved teacher brings its own head; remove detector "
                                 "(give it with `model` to train a teacher in the run)")
            continue
        det = src.detector or r.detector
        if det.name != r.detector.name:
            raise ValueError(f"{where}.detector: a '{det.name}' teacher cannot teach a '{r.detector.name}' "
                             f"student (their outputs mean different things); give the teacher detector name "
                             f"'{r.detector.name}'")
        if src.model.channels == 1:
            raise ValueError(f"{where}.model.channels: detectors take RGB images; remove channels or set 3")
        t_size = src.model.input_size or size
        if t_size != size:
            raise ValueError(f"{where}.model.input_size: the teacher takes {t_size} px, the student {size} px; "
                             "remove it (the teacher uses the student's input size)")
        t_key, t_count = _anchor_layout(det, size)
        if t_key != s_key:
            diff = [k for k in s_key if t_key.get(k) != s_key[k]]
            shapes = f"box_encodings (B, {t_count}, 4) vs (B, {s_count}, 4); " if t_count and s_count else ""
            raise ValueError(f"{where}.detector: the teacher's anchors differ from the student's "
                             f"({shapes}{diff[0]} {short_repr(t_key[diff[0]])} vs {short_repr(s_key[diff[0]])}); "
                             "distillation compares outputs anchor by anchor: give the teacher the student's "
                             "feature_maps, scales, aspect_ratios/anchors and input size")
