"""Synthetic detection scenes: 1..max_objects coloured shapes per image, boxes from the drawn
masks. The embedded default for detection: no download, deterministic per seed."""
from __future__ import annotations

import numpy as np

from .base import DATASETS
from .detection import DetectionDataset, DetectionSplit
from .shapes import CLASSES, shape_mask


def _colour_far_from(rng, bg):
    while True:
        fg = rng.integers(0, 256, 3)
        if np.abs(fg.astype(int) - bg.astype(int)).sum() > 180:
            return fg


def _scene(rng, size: int, max_objects: int, noise: float):
    bg = rng.integers(0, 256, 3)
    img = np.empty((size, size, 3), np.float32)
    img[:] = bg
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _try in range(20):  # objects do not overlap, so every drawn box is fully visible
            r = rng.uniform(0.08, 0.25) * size
            cx, cy = rng.uniform(r, size - r, 2)
            kind = int(rng.integers(0, len(CLASSES)))
            mask = shape_mask(CLASSES[kind], size, cx, cy, r)
            ys, xs = np.nonzero(mask)
            box = [ys.min() / size, xs.min() / size, (ys.max() + 1) / size, (xs.max() + 1) / size]
            if all(box[0] >= b[2] or box[2] <= b[0] or box[1] >= b[3] or box[3] <= b[1] for b in boxes):
                img[mask] = _colour_far_from(rng, bg)
                boxes.append(box)
                labels.append(kind)
                break
    img += rng.normal(0, noise * 255, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), np.asarray(boxes, np.float32), np.asarray(labels, np.int64)


def generate(n: int, size: int, max_objects: int, noise: float, rng) -> DetectionSplit:
    scenes = [_scene(rng, size, max_objects, noise) for _ in range(n)]
    images = np.stack([s[0] for s in scenes]) if n else np.zeros((0, size, size, 3), np.uint8)
    return DetectionSplit(images, [s[1] for s in scenes], [s[2] for s in scenes], [(size, size)] * n)


@DATASETS.register("shapes_detection", summary="synthetic scenes of shapes with boxes (embedded)",
                   task="detection")
def load_shapes_detection(spec, seed: int) -> DetectionDataset:
    # Separate streams so the test set does not change when train_samples does.
    train = generate(spec.train_samples, spec.image_size, spec.max_objects, spec.noise,
                     np.random.default_rng([seed, 11]))
    test = generate(spec.test_samples, spec.image_size, spec.max_objects, spec.noise,
                    np.random.default_rng([seed, 12]))
    return DetectionDataset(train, test, list(CLASSES), image_size=spec.image_size)
