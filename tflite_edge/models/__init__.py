"""Model registry. Builders import TensorFlow only when called, so the registry is cheap to load.

A backbone builder has the signature `(inputs, spec) -> features`, where features maps
"stride_8", "stride_16", "stride_32" (and "last", the final feature map) to tensors, so task
heads (classifier here, detectors later) depend only on named feature maps.
"""
from . import file_backbone, keras_applications, mobilenet, plain  # noqa: F401  (registration at the definitions)
from .registry import MODELS
from .classifier import build_classifier

__all__ = ["MODELS", "build_classifier"]
