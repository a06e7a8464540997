"""`model:` (the backbone) and `detector:` (the detection head, task: detection)."""
from __future__ import annotations

from typing import Annotated, Dict, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import Spec, registered


class ModelSpec(Spec):
    """A backbone built by name (random or `weights`), or the user's trained model from `path`."""

    name: Optional[str] = Field(None, description="a registered backbone (tflite-edge list); or give path")
    path: Optional[str] = Field(None, description="your trained Keras classifier (.keras, .h5 or a SavedModel "
                                "folder): it enters the run as the trained model (train.epochs 0 unless set)")
    backbone: Optional[str] = Field(None, description="your Keras model file (.keras, .h5 or a SavedModel "
                                    "folder) as the backbone of a new head (a classifier for the data's "
                                    "classes, or a detector): its feature maps by stride, its head dropped, "
                                    "its weights kept; name is then keras_file")
    weights: Optional[str] = Field(None, description="with name: pretrained backbone weights, a Keras .h5 "
                                   "weights file or a .keras/.h5 model with the same backbone layers; "
                                   "'imagenet' downloads them (keras_* models; never in tests)")
    trust_lambda: bool = Field(False, description="with path or backbone: allow Lambda layers and custom code in "
                               "the file")
    mean: Optional[float] = Field(None, description="input normalisation (pixel - mean) / std from 0..255; "
                                  "null: the model's own (127.5 for ours; path models: 127.5)")
    std: Optional[float] = Field(None, gt=0.0, description="see mean; null: the model's own")
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
    def _known_model(cls, v: Optional[str]) -> Optional[str]:
        from ..models import MODELS

        return v if v is None else registered(MODELS, v)

    @model_validator(mode="before")
    @classmethod
    def _backbone_names_the_builder(cls, data):
        if isinstance(data, dict) and data.get("backbone") is not None and data.get("name") is None:
            data = {**data, "name": FILE_BACKBONE}
        return data

    @model_validator(mode="after")
    def _file_backbone(self):
        if (self.backbone is not None) != (self.name == FILE_BACKBONE):
            raise ValueError(f"'backbone' (your Keras model file) goes with name {FILE_BACKBONE}, the builder "
                             "that reads it; give backbone: FILE alone")
        if self.backbone is not None:
            given = [f for f in _NOT_WITH_FILE if getattr(self, f) != type(self).model_fields[f].default]
            if given:
                raise ValueError(f"'{given[0]}' does not apply to a backbone from a file (it brings its own layers "
                                 "and weights); remove it")
        return self

    @model_validator(mode="after")
    def _name_or_path(self):
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of `name` (a backbone to build) or `path` (your trained "
                             "Keras model)")
        if self.path is not None:
            # what a built backbone takes; a loaded model brings its own (non-default values only)
            given = [f for f in _BUILD_ONLY if getattr(self, f) != type(self).model_fields[f].default]
            if given:
                raise ValueError(f"'{given[0]}' does not apply to a model loaded from `path` (it brings its "
                                 "own input size, channels and layers); remove it")
        elif self.trust_lambda and self.backbone is None:
            raise ValueError("'trust_lambda' applies to a model loaded from `path` or `backbone`; remove it")
        return self

    @model_validator(mode="after")
    def _v2_only_fields(self):
        # Non-default values, not keys given: a dumped recipe repeats the defaults and must load.
        given = [f for f in _V2_ONLY if getattr(self, f) != type(self).model_fields[f].default]
        if given and self.name != "mobilenet_v2":
            raise ValueError(f"'{given[0]}' applies to mobilenet_v2 only (this model is '{self.name}'); "
                             "remove it")
        return self


_V2_ONLY = ("depth_multiplier", "kernel_sizes", "expansions")
FILE_BACKBONE = "keras_file"  # models/file_backbone.py
_NOT_WITH_FILE = ("weights", "width", "activation", "stem_stride") + _V2_ONLY
_BUILD_ONLY = ("weights", "width", "input_size", "channels", "activation", "stem_stride", "dropout") + _V2_ONLY

# detector: fields that belong to one head only; the default maps mirror the heads' own
_SSD_ONLY = ("min_scale", "max_scale", "aspect_ratios", "neg_pos_ratio")
_YOLO_ONLY = ("anchors",)
YOLO_DEFAULT_MAPS = ("stride_16", "stride_32")  # models/detection/yolo.py TinyYolo.default_feature_maps
SSD_DEFAULT_MAPS = ("stride_8", "stride_16", "stride_32")  # models/detection/ssd.py SsdLite.default_feature_maps


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
        from ..models.detection import DETECTORS

        return registered(DETECTORS, v)

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
            maps = set(self.feature_maps or YOLO_DEFAULT_MAPS)
            if set(self.anchors) != maps:  # a map without priors would need a guess; extra ones go unused
                raise ValueError(f"detector.anchors: give priors for exactly the feature maps {sorted(maps)} "
                                 f"(got {sorted(self.anchors)})")
        return self
