"""The recipe schema: YAML in, frozen typed specs out. Imports no TensorFlow.

>>> r = Recipe.model_validate({"name": "demo", "data": {"dataset": "shapes"},
...                            "model": {"name": "plain_cnn"}})
>>> r.train.epochs
10
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Optional, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError,
                      field_validator, model_validator)

from .bench import PROCESSES, WARMUP_MIN_S
from .errors import UserInputError
from .registry import did_you_mean

FORMATS = ("float32", "float16", "dynamic", "int8", "int8_io", "uint8_io", "int16x8", "edgetpu")
STAGES = ("build", "train", "optimize", "convert", "evaluate", "benchmark", "report")


def _registered(registry, name: str) -> str:
    """`name` if the registry has it; otherwise the registry's did-you-mean message."""
    if name not in registry:
        raise ValueError(registry.unknown_message(name))
    return name


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# ---------------------------------------------------------------- data
class Augment(Spec):
    flip: bool = Field(False, description="random left-right flip (off: digits and letters flip meaning)")
    translate: float = Field(0.1, ge=0.0, le=0.5, description="random shift, fraction of the side")


class _DataCommon(Spec):
    batch_size: int = Field(32, ge=1, le=4096)
    validation_fraction: float = Field(0.1, ge=0.0, lt=0.9)
    augment: Augment = Augment()


class ShapesData(_DataCommon):
    """Synthetic coloured shapes (circle, square, triangle, cross); deterministic from the seed."""

    dataset: Literal["shapes"]
    image_size: int = Field(32, ge=8, le=512)
    train_samples: int = Field(2000, ge=8)
    test_samples: int = Field(500, ge=4)
    noise: float = Field(0.08, ge=0.0, le=1.0)


class DigitsData(_DataCommon):
    """scikit-learn's 1,797 real 8x8 handwritten digits."""

    dataset: Literal["digits"]
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0)


class FashionMnistData(_DataCommon):
    """Fashion-MNIST from the four standard IDX .gz files."""

    dataset: Literal["fashion_mnist"]
    path: str = "/usr/share/datasets/fashion-mnist"
    train_samples: Optional[int] = Field(None, ge=1, description="first N training images (all: null)")
    test_samples: Optional[int] = Field(None, ge=1, description="first N test images (all: null)")


class ImageFolderData(_DataCommon):
    """One sub-folder per class with jpg/png images; `test_path` or a split by `test_fraction`."""

    dataset: Literal["image_folder"]
    path: str
    test_path: Optional[str] = None
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)


class _DetectionData(_DataCommon):
    """Base of the detection datasets (boxes + labels per image); `task: detection` needs one."""

    augment: Augment = Augment(flip=True, translate=0.1)


class ShapesDetectionData(_DetectionData):
    """Synthetic scenes of 1..max_objects coloured shapes with boxes; deterministic from the seed."""

    dataset: Literal["shapes_detection"]
    image_size: int = Field(96, ge=32, le=512)
    train_samples: int = Field(2000, ge=8)
    test_samples: int = Field(300, ge=4)
    max_objects: int = Field(3, ge=1, le=10)
    noise: float = Field(0.05, ge=0.0, le=1.0)


class _AnnotatedFiles(_DetectionData):
    classes: Optional[List[str]] = Field(None, min_length=1, description="class names in label order; "
                                         "null: every name found in the training annotations, sorted")
    unknown_classes: Literal["error", "skip"] = Field("error", description="a name not in `classes`: "
                                                      "stop naming file and line, or skip it (counted)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="seeded split when no test set is given")


class VocData(_AnnotatedFiles):
    """Pascal VOC layout: `path`/Annotations/*.xml and the images they name in `path`/JPEGImages."""

    dataset: Literal["voc"]
    path: str
    test_path: Optional[str] = Field(None, description="a second VOC folder used as the test split")
    skip_difficult: bool = True


class CocoData(_AnnotatedFiles):
    """COCO JSON: `annotations` (instances_*.json) and the `images` folder its file_names are in."""

    dataset: Literal["coco"]
    annotations: str
    images: str
    test_annotations: Optional[str] = None
    test_images: Optional[str] = None


DETECTION_DATASETS = ("shapes_detection", "voc", "coco")
DataSpec = Annotated[Union[ShapesData, DigitsData, FashionMnistData, ImageFolderData,
                           ShapesDetectionData, VocData, CocoData],
                     Field(discriminator="dataset")]


# ---------------------------------------------------------------- model
class ModelSpec(Spec):
    name: str
    width: float = Field(1.0, gt=0.0, le=4.0, description="width multiplier (alpha)")
    input_size: Optional[int] = Field(None, ge=8, le=1024, description="side in pixels; null: the dataset's")
    channels: Optional[Literal[1, 3]] = Field(None, description="null: the dataset's")
    activation: Literal["relu6", "relu", "hard_swish"] = "relu6"
    stem_stride: Literal[1, 2] = Field(2, description="1 keeps detail on small inputs (<= 64 px)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # mobilenet_v2 only (what `search:` varies); the defaults are the paper's architecture.
    depth_multiplier: float = Field(1.0, gt=0.0, le=4.0, description="mobilenet_v2: blocks per stage "
                                    "times this, rounded up")
    kernel_sizes: Optional[List[Literal[3, 5, 7]]] = Field(
        None, min_length=7, max_length=7, description="mobilenet_v2: depthwise kernel of each of the 7 "
        "stages; null: 3 everywhere")
    expansions: Optional[List[Annotated[int, Field(ge=1, le=8)]]] = Field(
        None, min_length=7, max_length=7, description="mobilenet_v2: expansion ratio of each of the 7 "
        "stages; null: 1, 6, 6, 6, 6, 6, 6")

    @field_validator("name")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from .models import MODELS

        return _registered(MODELS, v)

    @model_validator(mode="after")
    def _v2_only_fields(self):
        # Non-default values, not keys given: a dumped recipe repeats the defaults and must load.
        given = [f for f in _V2_ONLY if getattr(self, f) != type(self).model_fields[f].default]
        if given and self.name != "mobilenet_v2":
            raise ValueError(f"'{given[0]}' applies to mobilenet_v2 only (this model is '{self.name}'); "
                             "remove it")
        return self


_V2_ONLY = ("depth_multiplier", "kernel_sizes", "expansions")


# ---------------------------------------------------------------- detector (task: detection)
_SSD_ONLY = ("min_scale", "max_scale", "aspect_ratios", "neg_pos_ratio")
_YOLO_ONLY = ("anchors",)
_YOLO_DEFAULT_MAPS = ("stride_16", "stride_32")  # models/detection/yolo.py TinyYolo.default_feature_maps
_SSD_DEFAULT_MAPS = ("stride_8", "stride_16", "stride_32")  # models/detection/ssd.py SsdLite.default_feature_maps


class DetectorSpec(Spec):
    """A detection head on `model`'s named feature maps, and how its output is post-processed."""

    name: str
    feature_maps: Optional[List[Literal["stride_8", "stride_16", "stride_32"]]] = Field(
        None, min_length=1, description="null: ssdlite stride_8/16/32, tiny_yolo stride_16/32")
    head_channels: Optional[int] = Field(None, ge=8, le=1024, description="1x1 conv before the heads")
    match_iou: float = Field(0.5, gt=0.0, lt=1.0)
    min_scale: float = Field(0.1, gt=0.0, le=1.0, description="ssdlite: anchor size on the finest map")
    max_scale: float = Field(0.9, gt=0.0, le=1.0, description="ssdlite: anchor size on the coarsest map")
    aspect_ratios: List[float] = Field([1.0, 2.0, 0.5], min_length=1)
    neg_pos_ratio: float = Field(3.0, gt=0.0, description="ssdlite: hard negatives per positive")
    anchors: Optional[Dict[Literal["stride_8", "stride_16", "stride_32"], List[List[float]]]] = Field(
        None, description="tiny_yolo: [h, w] priors (fractions of the image) per feature map")
    max_detections: int = Field(20, ge=1, le=1000)
    score_threshold: float = Field(0.01, ge=0.0, lt=1.0, description="low: mAP needs the full curve")
    nms_iou: float = Field(0.5, gt=0.0, le=1.0)

    @field_validator("name")
    @classmethod
    def _known_detector(cls, v: str) -> str:
        from .models.detection import DETECTORS

        return _registered(DETECTORS, v)

    @model_validator(mode="after")
    def _fields_fit_detector(self):
        wrong = _YOLO_ONLY if self.name == "ssdlite" else _SSD_ONLY
        # a default value is not "given": a run's recipe.yaml spells out every default and must reload
        given = [f for f in wrong if getattr(self, f) != type(self).model_fields[f].default]
        if given:
            raise ValueError(f"detector.{given[0]}: does not apply to detector '{self.name}'; remove it")
        if self.min_scale > self.max_scale:
            raise ValueError("detector.min_scale must not exceed max_scale")
        for fmap, priors in (self.anchors or {}).items():
            if not priors or any(len(p) != 2 or not all(0 < v <= 1 for v in p) for p in priors):
                raise ValueError(f"detector.anchors.{fmap}: a list of [h, w] in (0, 1], e.g. [[0.2, 0.2]]")
        if self.anchors:
            maps = set(self.feature_maps or _YOLO_DEFAULT_MAPS)
            if set(self.anchors) != maps:  # a map without priors would need a guess; extra ones go unused
                raise ValueError(f"detector.anchors: give priors for exactly the feature maps {sorted(maps)} "
                                 f"(got {sorted(self.anchors)})")
        return self


# ---------------------------------------------------------------- teacher (distillation)
class HintSpec(Spec):
    student_layer: str
    teacher_layer: str
    weight: float = Field(1.0, gt=0.0)


class TeacherSource(Spec):
    """A teacher: a model spec trained in the run first, or a saved Keras model (safe mode)."""

    model: Optional[ModelSpec] = None
    path: Optional[str] = None
    detector: Optional[DetectorSpec] = Field(None, description="task: detection, with `model`: the "
                                             "teacher's head (same anchors as the student's); null: the "
                                             "student's detector")
    epochs: Optional[int] = Field(None, ge=0, description="for `model`: null uses train.epochs")
    weight: float = Field(1.0, gt=0.0)
    trust_lambda: bool = Field(False, description="allow Lambda layers (they run arbitrary code)")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.model is None) == (self.path is None):
            raise ValueError("give exactly one of `model` (trained in the run) or `path` (a saved model)")
        return self


class TeacherSpec(Spec):
    sources: List[TeacherSource] = Field(min_length=1)
    temperature: float = Field(4.0, gt=0.0)
    alpha: float = Field(0.1, ge=0.0, description="weight of the hard-label loss")
    beta: float = Field(0.9, ge=0.0, description="weight of the soft-target loss (times T^2)")
    hints: List[HintSpec] = []
    box_weight: float = Field(1.0, ge=0.0, le=100.0, description="task: detection: weight of the box "
                              "regression term (smooth L1 to the teacher's boxes, where it sees objects)")


# ---------------------------------------------------------------- train
class EarlyStopping(Spec):
    patience: int = Field(3, ge=1)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"


class TrainSpec(Spec):
    epochs: int = Field(10, ge=0)
    learning_rate: float = Field(1e-3, gt=0.0, lt=10.0)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: decay to 0 over the fit")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    steps_per_epoch: Optional[int] = Field(None, ge=1, description="cap steps (tests, smoke runs)")
    early_stopping: Optional[EarlyStopping] = None
    tensorboard: bool = True
    strategy: Optional[Literal["mirrored", "multi_worker"]] = Field(
        None, description="tf.distribute: mirrored (GPUs of this host), multi_worker (hosts in "
        "TF_CONFIG); null: one device. data.batch_size is the global batch")
    deterministic: bool = Field(True, description="bit-identical reruns on CPU for a seed; turn off "
                                "on GPUs whose kernels lack a deterministic version")


# ---------------------------------------------------------------- optimize (ordered list)
class PruneSpec(Spec):
    sparsity: float = Field(0.5, ge=0.0, lt=1.0)
    schedule: Literal["polynomial", "constant"] = "polynomial"
    initial_sparsity: float = Field(0.0, ge=0.0, lt=1.0)
    m_by_n: Optional[List[int]] = Field(None, description="structured sparsity, e.g. [2, 4]")
    layers: Optional[List[str]] = Field(None, description="regex on layer names; null: every prunable layer")
    layer_types: Optional[List[str]] = Field(None, description="e.g. [Conv2D, Dense]")
    xnnpack_policy: bool = False
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)

    @field_validator("m_by_n")
    @classmethod
    def _m_by_n(cls, v):
        if v is not None and (len(v) != 2 or not 0 < v[0] < v[1]):
            raise ValueError("m_by_n must be [M, N] with 0 < M < N, e.g. [2, 4]")
        return v


class ClusterSpec(Spec):
    clusters: int = Field(16, ge=2, le=256)
    init: Literal["kmeans_plus_plus", "linear", "density_based", "random"] = "kmeans_plus_plus"
    layers: Optional[List[str]] = None
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)


class QatSpec(Spec):
    skip_layers: List[str] = Field([], description="regex on layer names left in float")
    range_warmup_steps: int = Field(200, ge=0, le=100000, description="forward passes on calibration "
                                    "images that measure the activation ranges before fine-tuning "
                                    "(tfmot starts them at [-6, 6]); 0: off")
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)


class PruneChannelsSpec(Spec):
    """Structured pruning (channel_prune.py): remove whole filters, rebuild a smaller model, fine-tune."""

    criterion: Literal["l1", "bn_scale"] = Field("l1", description="l1: L1 norm of the filters; bn_scale: "
                                                 "|gamma| of the BatchNorms (network slimming)")
    ratio: Optional[float] = Field(None, ge=0.0, le=1.0, description="fraction of channels removed in every "
                                   "prunable layer")
    ratios: Optional[Dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]] = Field(
        None, min_length=1, description="{layer regex: ratio}; the first matching pattern wins; other layers kept")
    target_macs_ratio: Optional[float] = Field(None, gt=0.0, lt=1.0, description="MACs after / before; "
                                               "the global ratio is found by bisection")
    target_latency_ratio: Optional[float] = Field(None, gt=0.0, lt=1.0, description="int8 host latency "
                                                  "after / before (1 thread), measured per probe")
    allocation: Literal["uniform", "latency"] = Field(
        "uniform", description="with target_macs_ratio: uniform = one ratio in every layer; latency = "
        "prune hardest where a removed MAC saves the most measured int8 time (one probe per feature-map size)")
    max_ratio: float = Field(0.75, gt=0.0, lt=1.0, description="allocation latency: the most any layer loses")
    round_to: int = Field(8, ge=1, le=64, description="kept channels are a multiple of this (XNNPACK: 8)")
    measure_latency: bool = Field(True, description="time int8 host latency before and after")
    bn_recalibration_steps: int = Field(100, ge=0, le=100000, description="forward passes on calibration "
                                        "images that re-estimate the BatchNorm statistics of the cut model "
                                        "before fine-tuning; 0: off")
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)
    distill_from_unpruned: bool = Field(False, description="fine-tune against the unpruned model's logits")

    @field_validator("ratios")
    @classmethod
    def _regexes(cls, v):
        for pattern in v or {}:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"'{pattern}' is not a valid regular expression ({e})") from None
        return v

    @model_validator(mode="after")
    def _one_amount(self):
        given = [f for f in _PRUNE_AMOUNTS if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_PRUNE_AMOUNTS)} (got "
                             f"{', '.join(given) or 'none'}), e.g. target_macs_ratio: 0.5")
        if self.allocation == "latency" and self.target_macs_ratio is None:
            raise ValueError("allocation: latency needs target_macs_ratio (it shares out a MACs budget); "
                             "set target_macs_ratio or allocation: uniform")
        return self


_PRUNE_AMOUNTS = ("ratio", "ratios", "target_macs_ratio", "target_latency_ratio")


class PruneStep(Spec):
    prune: PruneSpec


class PruneChannelsStep(Spec):
    prune_channels: PruneChannelsSpec


class ClusterStep(Spec):
    cluster: ClusterSpec


class QatStep(Spec):
    qat: QatSpec


OPTIMIZATIONS = {"prune": PruneStep, "prune_channels": PruneChannelsStep, "cluster": ClusterStep,
                 "qat": QatStep}


def _step_tag(v: Any):
    if isinstance(v, dict) and len(v) == 1:
        return next(iter(v))
    if isinstance(v, BaseModel):
        return next(iter(type(v).model_fields))
    return None


OptimizeStep = Annotated[
    Union[Annotated[PruneStep, Tag("prune")], Annotated[PruneChannelsStep, Tag("prune_channels")],
          Annotated[ClusterStep, Tag("cluster")], Annotated[QatStep, Tag("qat")]],
    Discriminator(_step_tag, custom_error_type="optimize_step",
                  custom_error_message="each optimize entry is one key: prune, prune_channels, cluster or qat"),
]


# ---------------------------------------------------------------- convert / evaluate / benchmark
class ConvertSpec(Spec):
    formats: List[Literal[FORMATS]] = Field(["float32", "dynamic", "int8"], min_length=1)
    calibration_samples: int = Field(200, ge=1, le=100000)

    @field_validator("formats")
    @classmethod
    def _unique(cls, v):
        dupes = sorted({f for f in v if v.count(f) > 1})
        if dupes:
            raise ValueError(f"formats listed twice: {dupes}")
        return v


class EvaluateSpec(Spec):
    """Quality gates; accuracies are fractions (0.01 = one point). A failed gate exits 3."""

    min_keras_accuracy: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_accuracy_drop: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_accuracy_drop_by_format: Dict[Literal[FORMATS], float] = {}
    min_agreement: Optional[float] = Field(None, ge=0.0, le=1.0, description="top-1 agreement with Keras")
    min_keras_map50: Optional[float] = Field(None, ge=0.0, le=1.0, description="detection: COCO mAP@.5")
    max_map50_drop: Optional[float] = Field(None, ge=0.0, le=1.0, description="detection: per artifact")
    edgetpu_max_cpu_ops: Optional[int] = Field(0, ge=0, description="edgetpu artifacts: ops predicted "
                                               "to fall back to the CPU (null: no gate)")


class BenchmarkSpec(Spec):
    targets: List[str] = Field(["host"], min_length=1)
    threads: List[int] = Field([1], min_length=1)
    runs: int = Field(50, ge=1, le=100000)
    warmup: int = Field(5, ge=0, le=10000)
    warmup_min_s: float = Field(WARMUP_MIN_S, ge=0.0, le=600.0, description="untimed invocations go on "
                                "until this many seconds passed, as benchmark_model's --warmup_min_secs")
    processes: int = Field(PROCESSES, ge=1, le=100, description="host and ssh targets: spread `runs` over up to this "
                           "many fresh processes and pool them (one process in a slower mode cannot move the "
                           "p50); 1: one process, as benchmark_model")
    delegates: List[Literal["xnnpack", "gpu", "nnapi"]] = Field(["xnnpack"], min_length=1,
                                                                 description="android targets")
    android_binary: Optional[str] = Field(None, description="LiteRT benchmark_model for android targets")
    eval_samples: int = Field(1000, ge=1, description="ssh targets: test images sent to measure accuracy there")

    @field_validator("threads")
    @classmethod
    def _threads(cls, v):
        if any(t < 1 for t in v):
            raise ValueError("threads must be >= 1")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v):
        from .bench import TARGETS

        for t in v:
            _registered(TARGETS, t.split(":", 1)[0])
        return v


# ---------------------------------------------------------------- search (before build)
class SearchSpace(Spec):
    """Candidates per knob of the mobilenet_v2 backbone; a knob left out keeps `model:`'s value.

    Kernel sizes and expansion ratios are chosen per stage (MnasNet's factorised space).
    """

    widths: Optional[List[Annotated[float, Field(gt=0.0, le=4.0)]]] = Field(None, min_length=1)
    input_sizes: Optional[List[Annotated[int, Field(ge=8, le=1024)]]] = Field(None, min_length=1)
    depth_multipliers: Optional[List[Annotated[float, Field(gt=0.0, le=4.0)]]] = Field(None, min_length=1)
    kernel_sizes: Optional[List[Literal[3, 5, 7]]] = Field(None, min_length=1)
    expansions: Optional[List[Annotated[int, Field(ge=1, le=8)]]] = Field(
        None, min_length=1, description="stages 2..7; the first stays at 1 as in MobileNetV2 and MnasNet")

    @model_validator(mode="after")
    def _not_empty(self):
        knobs = [getattr(self, k) for k in type(self).model_fields]
        if all(v is None for v in knobs):
            raise ValueError(f"empty space; give candidates for at least one of "
                             f"{', '.join(type(self).model_fields)}, e.g. widths: [0.35, 0.5, 0.75]")
        if all(v is None or len(set(v)) == 1 for v in knobs):
            raise ValueError("one candidate only, nothing to search; give two or more values for a knob")
        return self


class SearchSpec(Spec):
    """Latency-aware architecture search (MnasNet reward ACC * (LAT / T)^w) driven by keras-tuner."""

    space: SearchSpace
    trials: int = Field(10, ge=1, le=10000)
    latency_target_ms: float = Field(description="T in the reward: int8 latency on `target`, > 0")
    latency_weight: float = Field(-0.07, ge=-2.0, le=0.0, description="w in the reward; MnasNet's "
                                  "soft constraint is -0.07, 0 ignores latency")
    latency_weight_under_target: Optional[float] = Field(
        None, ge=-2.0, le=0.0, description="w for trials at or under T (MnasNet's alpha; "
        "`latency_weight` is then beta, used above T); null: `latency_weight` on both sides. "
        "0 with latency_weight -1 is MnasNet's hard constraint: under T only accuracy counts")
    epochs_per_trial: int = Field(1, ge=1)
    time_budget_s: Optional[float] = Field(None, gt=0.0, description="no trial starts after this many "
                                           "seconds of searching; null: run every trial")
    target: str = Field("host", description="benchmark target measured per trial (see `tflite-edge targets`)")
    threads: int = Field(1, ge=1)
    runs: int = Field(30, ge=1, le=100000)
    warmup: int = Field(5, ge=0, le=10000)
    warmup_min_s: float = Field(WARMUP_MIN_S, ge=0.0, le=600.0)
    processes: int = Field(PROCESSES, ge=1, le=100, description="host target: as benchmark.processes")
    eval_samples: int = Field(2000, ge=1, description="validation images scored per trial (int8 model)")
    calibration_samples: int = Field(100, ge=1, le=100000)

    @field_validator("latency_target_ms")
    @classmethod
    def _positive_target(cls, v):
        if v <= 0:
            raise ValueError("the latency target T must be > 0 ms (the reward divides by it), e.g. 2.0")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v):
        from .bench import TARGETS

        kind = _registered(TARGETS, v.split(":", 1)[0])
        if kind == "coral":
            raise ValueError("coral would time trials that are not compiled for the Edge TPU (they run "
                             "on its host CPU); use host, android or ssh")
        return v


# ---------------------------------------------------------------- the recipe
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

    @model_validator(mode="after")
    def _cross_field(self):
        names = [_step_tag(s) for s in self.optimize]
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
        if r.teacher is not None:
            if r.teacher.box_weight != TeacherSpec.model_fields["box_weight"].default:
                raise ValueError("teacher.box_weight: only for task: detection; remove it")
            for i, src in enumerate(r.teacher.sources):
                if src.detector is not None:
                    raise ValueError(f"teacher.sources[{i}].detector: only for task: detection; remove it")
        return
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
    from .models.detection.base import grid_size
    from .models.detection.yolo import DEFAULT_ANCHORS

    if d.name == "ssdlite":
        maps = tuple(d.feature_maps or _SSD_DEFAULT_MAPS)
        per_cell = {f: len(d.aspect_ratios) + 1 for f in maps}
        key = {"feature_maps": list(maps), "min_scale": d.min_scale, "max_scale": d.max_scale,
               "aspect_ratios": list(d.aspect_ratios)}
    else:
        maps = tuple(d.feature_maps or _YOLO_DEFAULT_MAPS)
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
        if src.path is not None:
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
                             f"({shapes}{diff[0]} {_short(t_key[diff[0]])} vs {_short(s_key[diff[0]])}); "
                             "distillation compares outputs anchor by anchor: give the teacher the student's "
                             "feature_maps, scales, aspect_ratios/anchors and input size")


# ---------------------------------------------------------------- loading
class _RecipeLoader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float. PyYAML follows YAML 1.1, where a float needs a
    dot (`1.0e-4`); `learning_rate: 1e-4` would otherwise arrive as the string '1e-4'."""


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _yaml_load(text: str):
    return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 (a SafeLoader subclass: no python tags)


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
        node[last] = parsed
    return raw


# ---------------------------------------------------------------- error messages
def _loc_to_path(loc) -> str:
    out = ""
    for p in loc:
        if not isinstance(p, int) and (not str(p).isprintable() or len(str(p)) > 60):
            p = _short(str(p))  # a key with a newline or 10 kB of text must not break the one line
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _strip_tags(loc, raw):
    """Drop the discriminator tags pydantic puts in `loc` (data.shapes.x -> data.x)."""
    out, node = [], raw
    for i, p in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(node, dict) and (node.get("dataset") == p or
                                       (_step_tag(node) == p and nxt == p)):
            continue
        out.append(p)
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _resolve(ann, node):
    """The Spec class behind annotation `ann` for the raw value `node` (unions chosen by tag)."""
    import typing

    origin = typing.get_origin(ann)
    if origin is Annotated:
        return _resolve(typing.get_args(ann)[0], node)
    if origin in (list, List):
        return _resolve(typing.get_args(ann)[0], None)
    if origin is Union:
        members = [_resolve(a, node) for a in typing.get_args(ann) if a is not type(None)]
        members = [m for m in members if m is not None]
        if len(members) == 1:
            return members[0]
        for m in members:
            if isinstance(node, dict) and "dataset" in m.model_fields and \
                    node.get("dataset") in typing.get_args(m.model_fields["dataset"].annotation):
                return m
            if _step_tag(node) in m.model_fields and len(m.model_fields) == 1:
                return m
        return None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _fields_for(path, raw) -> List[str]:
    """Allowed keys of the mapping at `path` in the raw recipe (for did-you-mean)."""
    cls, node, pending = Recipe, raw, None
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(p, int):
            cls = _resolve(pending, node) if pending is not None else None
            pending = None
            continue
        field = cls.model_fields.get(p) if cls else None
        if field is None:
            return []
        import typing
        if typing.get_origin(field.annotation) in (list, List):
            pending, cls = typing.get_args(field.annotation)[0], None
        else:
            cls = _resolve(field.annotation, node)
    return list(cls.model_fields) if cls else []


def _short(value) -> str:
    """repr bounded in size: a YAML alias bomb or a 10 MB string must not become the error line."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlist, r.maxdict = 2, 60, 60, 6, 6
    return r.repr(value)


def format_validation_error(e: ValidationError, raw: dict) -> str:
    """One line per problem: `path: what was wrong (got X); allowed Y`."""
    msgs = []
    for err in e.errors():
        loc = _strip_tags(err["loc"], raw)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            fields = _fields_for(loc[:-1], raw)
            hint = did_you_mean(key, fields)
            allowed = f"; allowed: {', '.join(fields)}" if fields and not hint else ""
            msgs.append(f"{_loc_to_path(loc)}: unknown key{hint}{allowed}")
        elif kind == "union_tag_invalid":
            got = err["ctx"]["tag"]
            tags = [t.strip(" '") for t in err["ctx"]["expected_tags"].split(",")]
            msgs.append(f"{_loc_to_path(loc)}.{err['ctx']['discriminator'].strip(chr(39))}: unknown "
                        f"value '{got}'{did_you_mean(got, tags)}; allowed: {', '.join(tags)}")
        elif kind == "union_tag_not_found":
            msgs.append(f"{_loc_to_path(loc)}: missing '{err['ctx']['discriminator'].strip(chr(39))}' "
                        "key, e.g. dataset: shapes")
        elif kind == "optimize_step":
            got = err.get("input")
            keys = list(got) if isinstance(got, dict) else got
            hint = did_you_mean(keys[0], OPTIMIZATIONS) if isinstance(keys, list) and len(keys) == 1 else ""
            msgs.append(f"{_loc_to_path(loc)}: {err['msg']} (got {_short(keys)}){hint}")
        elif kind == "missing":
            msgs.append(f"{_loc_to_path(loc)}: required key is missing")
        else:
            got = err.get("input")
            msg = err["msg"].removeprefix("Value error, ")
            shown = "" if isinstance(got, (dict, list)) or _short(got) in msg else f" (got {_short(got)})"
            where = _loc_to_path(loc)
            msgs.append(f"{where}: {msg}{shown}" if where else f"{msg}{shown}")
    # Values echoed inside messages (a model name, a tag) may hold newlines: keep one line each.
    msgs = list(dict.fromkeys(m.replace("\r", "\\r").replace("\n", "\\n")[:400] for m in msgs))
    if len(msgs) > 12:  # the first problems say enough; the rest follow once those are fixed
        msgs = msgs[:12] + [f"... and {len(msgs) - 12} more problem(s)"]
    return "; ".join(msgs)


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
