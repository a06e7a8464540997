"""Detector registry. A detector is a head on a backbone's named feature maps ("stride_8/16/32").

Every detector's Keras model has the same two outputs, so training, export and evaluation are
shared: `box_encodings` (B, N, 4) and `class_logits` (B, N, K), one row per anchor. Each detector
also says how those raw outputs become SSD-style centre-size encodings and per-class scores (with a
background column first): the inputs `TFLite_Detection_PostProcess` expects.
"""
from . import ssd, yolo  # noqa: F401  (registration happens at the definitions)
from .registry import DETECTORS

__all__ = ["DETECTORS"]
