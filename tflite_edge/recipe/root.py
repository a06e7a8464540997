"""The Recipe root model and the rules that span its sections."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, model_validator

from .adaptive import AdaptiveSpec
from .artifacts import BenchmarkSpec, ConvertSpec, EvaluateSpec
from .base import Spec, short_repr
from .data import DETECTION_DATASETS, DataSpec
from .mixed import check_mixed
from .model import SSD_DEFAULT_MAPS, YOLO_DEFAULT_MAPS, DetectorSpec, ModelSpec
from .optimize import OptimizeStep, step_tag
from .search import SearchSpec
from .train import TeacherSpec, TrainSpec

STAGES = ("build", "train", "optimize", "convert", "evaluate", "benchmark", "report")


class Recipe(Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    seed: int = Field(0, ge=0)
    task: Literal["classification", "detection"] = "classification"
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
        _check_task(self)
        _check_search(self)
        _check_adaptive(self)
        check_mixed(self)
        return self


def _check_search(r: "Recipe") -> None:
    if r.search is None:
        return
    if r.task != "classification":
        raise ValueError("search: only for task: classification; remove search:")
    if r.model.name != "mobilenet_v2":
        raise ValueError(f"search: varies the mobilenet_v2 backbone; set model.name: mobilenet_v2 "
                         f"(got '{r.model.name}')")
    if r.data.validation_fraction <= 0:
        raise ValueError("search: trials are scored on the validation split, never the test split; "
                         "set data.validation_fraction > 0, e.g. 0.1")


def _check_adaptive(r: "Recipe") -> None:
    a = r.adaptive
    if a is None:
        return
    if r.task != "classification":
        raise ValueError("adaptive: early exits are for task: classification only; remove adaptive:")
    for name in ("prune_channels",):
        if name in [step_tag(s) for s in r.optimize]:
            raise ValueError("adaptive: prune_channels rebuilds the backbone without the exits; use prune, "
                             "cluster or qat with adaptive:, or remove adaptive:")
    if r.search is not None:
        raise ValueError("adaptive: search trials build plain classifiers; remove search: or adaptive:")
    if a.needs_validation and r.data.validation_fraction <= 0:
        raise ValueError("adaptive.threshold: auto picks thresholds on the validation split, never the test "
                         "split; set data.validation_fraction > 0 (e.g. 0.1) or give a threshold")


def stages_for(recipe: "Recipe") -> tuple:
    """The stages this recipe runs: `search` comes first only when the recipe has `search:`."""
    return (("search",) if recipe.search is not None else ()) + STAGES


_DETECTION_FORMATS = ("float32", "float16", "dynamic", "int8", "int8_io", "uint8_io", "edgetpu")


def _check_task(r: "Recipe") -> None:
    detection_data = r.data.dataset in DETECTION_DATASETS
    if r.task == "classification":
        if detection_data:
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
        return
    if r.model.path is not None:
        raise ValueError("model.path: loading your own model is for task: classification; for a detector "
                         "give model.name and model.weights (a pretrained backbone)")
    if r.train.freeze_backbone_epochs:
        raise ValueError("train.freeze_backbone_epochs: classification only for now; remove it")
    if not detection_data:
        raise ValueError(f"data.dataset: '{r.data.dataset}' has no boxes; task: detection needs one of "
                         f"{', '.join(DETECTION_DATASETS)}")
    if r.detector is None:
        raise ValueError("detector: required for task: detection, e.g. detector: {name: ssdlite}")
    if r.teacher is not None:
        _check_detection_teacher(r)
    bad = [f for f in r.convert.formats if f not in _DETECTION_FORMATS]
    if bad:
        raise ValueError(f"convert.formats: {bad[0]} is not supported for detection; allowed: "
                         f"{', '.join(_DETECTION_FORMATS)}")
    e = r.evaluate
    if e.min_keras_accuracy is not None or e.max_accuracy_drop is not None or e.max_accuracy_drop_by_format \
            or e.min_agreement is not None:
        raise ValueError("evaluate: accuracy/agreement gates are for classification; for detection use "
                         "min_keras_map50 and max_map50_drop")


def _anchor_layout(d: DetectorSpec, size: Optional[int]) -> tuple:
    """(what fixes the anchors, anchor count or None while the input size is unknown); no TensorFlow."""
    from ..models.detection.base import grid_size
    from ..models.detection.yolo import DEFAULT_ANCHORS

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


def _check_detection_teacher(r: "Recipe") -> None:
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
