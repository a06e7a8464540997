"""Detection datasets: images with boxes. What the VOC, COCO and synthetic loaders return.

Boxes are normalised corners [ymin, xmin, ymax, xmax] in 0..1, so resizing an image to the
model's input never touches them. `counts` records every repair made to a user's annotations
(clipped boxes, skipped objects or images); the report shows it, so nothing is fixed silently.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Union

import numpy as np

from ..errors import UserInputError


@dataclass
class DetectionSplit:
    images: Union[np.ndarray, Sequence[str]]  # uint8 (N, H, W, 3), or image file paths
    boxes: List[np.ndarray]                   # per image (k, 4) float32
    labels: List[np.ndarray]                  # per image (k,) int64, 0-based class index
    sizes: List[tuple]                        # per image original (height, width) in pixels

    def __len__(self) -> int:
        return len(self.boxes)

    def subset(self, idx) -> "DetectionSplit":
        imgs = self.images[idx] if isinstance(self.images, np.ndarray) else [self.images[i] for i in idx]
        return DetectionSplit(imgs, [self.boxes[i] for i in idx], [self.labels[i] for i in idx],
                              [self.sizes[i] for i in idx])


@dataclass
class DetectionDataset:
    train: DetectionSplit
    test: DetectionSplit
    class_names: List[str]
    channels: int = 3
    image_size: int | None = None  # native side when every image has it (synthetic); else None
    counts: Counter = field(default_factory=Counter)
    task: str = "detection"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_images(split: DetectionSplit, idx, height: int, width: int) -> np.ndarray:
    """uint8 (n, height, width, 3) for the images at `idx`, decoded and resized (boxes are relative)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(split.images, np.ndarray):
        arr = split.images[idx]
        if arr.shape[1:3] == (height, width):
            return arr
        return np.stack([np.asarray(Image.fromarray(a).resize((width, height), Image.BILINEAR)) for a in arr])
    out = []
    for i in idx:
        path = split.images[i]
        try:
            with Image.open(path) as im:
                out.append(np.asarray(im.convert("RGB").resize((width, height), Image.BILINEAR)))
        except (OSError, UnidentifiedImageError) as e:
            raise UserInputError(f"{path}: image could not be decoded ({e}); remove or re-save it") from None
    return np.stack(out) if out else np.zeros((0, height, width, 3), np.uint8)


def clip_box(x0, y0, x1, y1, w, h, counts: Counter):
    """Normalised [ymin, xmin, ymax, xmax] inside the image, or None for a box with no area left."""
    cx0, cy0, cx1, cy1 = min(max(x0, 0), w), min(max(y0, 0), h), min(max(x1, 0), w), min(max(y1, 0), h)
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        counts["boxes_clipped_to_image"] += 1
    if cx1 - cx0 < 1 or cy1 - cy0 < 1:
        counts["boxes_dropped_empty"] += 1
        return None
    return [cy0 / h, cx0 / w, cy1 / h, cx1 / w]


def image_size_of(path: Path, where: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (OSError, UnidentifiedImageError) as e:
        raise UserInputError(f"{where}: image {path} could not be read ({e}); fix or remove it") from None


def class_index(name: str, classes: List[str], policy: str, where: str, counts: Counter):
    """Index of `name`, None to skip it (counted), or a one-line error naming where it was found."""
    if name in classes:
        return classes.index(name)
    if policy == "skip":
        counts[f"objects_skipped_unknown_class:{name}"] += 1
        return None
    from ..registry import did_you_mean

    raise UserInputError(f"{where}: unknown class '{name}'{did_you_mean(name, classes)}; add it to "
                         "data.classes or set data.unknown_classes: skip")


def seeded_split(split: DetectionSplit, fraction: float, seed: int):
    order = np.random.default_rng([seed, 4]).permutation(len(split))
    n_test = max(1, int(round(len(split) * fraction)))
    if n_test >= len(split):
        raise UserInputError(f"data.test_fraction: {len(split)} image(s) cannot be split; add images or "
                             "give a separate test set")
    return split.subset(sorted(order[n_test:])), split.subset(sorted(order[:n_test]))


def as_split(records) -> DetectionSplit:
    """records: [(image path, boxes list, labels list, (h, w))] -> DetectionSplit."""
    return DetectionSplit([r[0] for r in records],
                          [np.asarray(r[1], np.float32).reshape(-1, 4) for r in records],
                          [np.asarray(r[2], np.int64) for r in records], [r[3] for r in records])
