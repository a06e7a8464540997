"""Dataset registry. A loader `(spec, seed) -> Dataset` returns raw uint8 images (or file paths).

Preprocessing (resize, channels, normalisation, augmentation) lives in data/pipeline.py and is
driven by the model's InputSpec, so training, calibration and evaluation share one definition.
"""
from __future__ import annotations

from . import digits, fashion_mnist, image_folder, shapes  # noqa: F401  (registration at the definitions)
from . import coco, shapes_detection, voc  # noqa: F401,I001  (task="detection"; listed after)
from .base import DATASETS, Dataset, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]
