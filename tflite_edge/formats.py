"""The TFLite formats, each declared once with its properties: what it is, whether it needs
calibration images, whether its batch is fixed to 1, which tasks it serves.

TensorFlow-free: the recipe schema reads it (`validate` imports no TensorFlow). How a format is
made (its converter setup) is registered against the same name in `export.py`, and
tests/test_recipe.py checks that every format here has one.

>>> FORMATS.get("int8").needs_calibration
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from .registry import Registry

BOTH = ("classification", "detection")


@dataclass(frozen=True)
class Format:
    name: str
    summary: str
    needs_calibration: bool = False  # integer formats: the converter needs representative images
    static_batch: bool = False       # the artifact's batch is fixed to 1 (the Edge TPU refuses dynamic shapes)
    tasks: Tuple[str, ...] = BOTH    # the tasks whose export writes this format


# In the recipe's order (`tflite-edge list` sorts by name).
DECLARED = (
    Format("float32", "float32 weights and activations"),
    Format("float16", "float16 weights, float32 compute on CPU (half the size)"),
    Format("dynamic", "int8 weights, float activations (no calibration)"),
    Format("int8", "full integer, float32 input/output", needs_calibration=True),
    Format("int8_io", "full integer with int8 input/output", needs_calibration=True),
    Format("uint8_io", "full integer with uint8 input/output", needs_calibration=True),
    Format("int16x8", "int16 activations, int8 weights (accuracy-sensitive models)", needs_calibration=True,
           tasks=("classification",)),  # not offered for detectors (their postprocess op is int8/float)
    Format("edgetpu", "Edge TPU-ready: full int8, uint8 I/O, static batch 1 (then edgetpu_compiler when "
                      "installed)", needs_calibration=True, static_batch=True),
)
FORMAT_NAMES = tuple(f.name for f in DECLARED)
FORMATS = Registry("format")
for _fmt in DECLARED:
    FORMATS.register(_fmt.name, summary=_fmt.summary)(_fmt)
NEEDS_CALIBRATION = frozenset(f.name for f in DECLARED if f.needs_calibration)


def formats_for(task: str) -> Tuple[str, ...]:
    """The formats a task can write, in the recipe's order."""
    return tuple(f.name for f in DECLARED if task in f.tasks)
