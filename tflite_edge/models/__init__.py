"""Model registry. Builders import TensorFlow only when called, so the registry is cheap to load.

A backbone builder has the signature `(inputs, spec) -> features`, where features maps
"stride_8", "stride_16", "stride_32" (and "last", the final feature map) to tensors, so task
heads (classifier here, detectors later) depend only on named feature maps.
"""
from ..registry import Registry

MODELS = Registry("model")

from . import mobilenet, plain  # noqa: E402,F401  (registration happens at the definitions)
from .classifier import build_classifier  # noqa: E402,F401
