"""scikit-learn's real 8x8 handwritten digits (ships with the package: no download)."""
from __future__ import annotations

import numpy as np

from .base import DATASETS, Dataset


@DATASETS.register("digits", summary="1,797 real 8x8 handwritten digits from scikit-learn")
def load_digits(spec, seed: int) -> Dataset:
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    d = sk_load()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    tx, vx, ty, vy = train_test_split(images, d.target.astype(np.int64), test_size=spec.test_fraction,
                                      random_state=seed, stratify=d.target)
    return Dataset(tx, ty, vx, vy, class_names=[str(i) for i in range(10)], channels=1, image_size=8)
