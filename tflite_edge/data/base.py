"""The dataset registry and the raw `Dataset` every loader returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np

from ..registry import Registry

DATASETS = Registry("dataset")


@dataclass
class Dataset:
    """Raw splits. `*_x` is a uint8 array (N, H, W, C) or, for image folders, an array of file paths."""

    train_x: Union[np.ndarray, Sequence[str]]
    train_y: np.ndarray
    test_x: Union[np.ndarray, Sequence[str]]
    test_y: np.ndarray
    class_names: List[str]
    channels: int
    image_size: Optional[int]  # native side length; None when images vary (image folders)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def from_files(self) -> bool:
        return np.asarray(self.train_x).dtype.kind in "USO"


def load_dataset(spec, seed: int) -> Dataset:
    return DATASETS.get(spec.dataset)(spec, seed)
