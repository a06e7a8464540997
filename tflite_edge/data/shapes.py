"""Synthetic coloured shapes: the embedded default dataset (no download, deterministic per seed)."""
from __future__ import annotations

import numpy as np

from .base import DATASETS, Dataset

CLASSES = ["circle", "square", "triangle", "cross"]


def shape_mask(kind: str, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    """Boolean (size, size) mask of one shape centred at (cx, cy) with half-extent r."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        return dx * dx + dy * dy <= r * r
    if kind == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if kind == "triangle":
        inside_y = (dy >= -r) & (dy <= r)
        return inside_y & (np.abs(dx) <= (dy + r) / 2)
    if kind == "cross":
        t = r / 3
        return ((np.abs(dx) <= t) & (np.abs(dy) <= r)) | ((np.abs(dy) <= t) & (np.abs(dx) <= r))
    raise ValueError(kind)


def _contrasting_colours(rng):
    while True:
        fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if np.abs(fg.astype(int) - bg.astype(int)).sum() > 180:
            return fg, bg


def render(rng, kind: str, size: int, noise: float) -> np.ndarray:
    fg, bg = _contrasting_colours(rng)
    r = rng.uniform(0.22, 0.42) * size
    cx, cy = rng.uniform(r, size - r, 2)
    img = np.empty((size, size, 3), np.float32)
    img[:] = bg
    img[shape_mask(kind, size, cx, cy, r)] = fg
    img += rng.normal(0, noise * 255, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(n: int, size: int, noise: float, rng):
    labels = rng.integers(0, len(CLASSES), n)
    images = np.stack([render(rng, CLASSES[k], size, noise) for k in labels]) if n else \
        np.zeros((0, size, size, 3), np.uint8)
    return images, labels.astype(np.int64)


@DATASETS.register("shapes", summary="synthetic circles/squares/triangles/crosses, RGB (embedded)")
def load_shapes(spec, seed: int) -> Dataset:
    # Separate streams so the test set does not change when train_samples does.
    train = generate(spec.train_samples, spec.image_size, spec.noise, np.random.default_rng([seed, 1]))
    test = generate(spec.test_samples, spec.image_size, spec.noise, np.random.default_rng([seed, 2]))
    return Dataset(*train, *test, class_names=list(CLASSES), channels=3, image_size=spec.image_size)
