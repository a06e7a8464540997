"""Training batches for detectors: box-aware augmentation and anchor targets, in numpy per batch
(targets depend on the boxes after augmentation, so they cannot be precomputed)."""
from __future__ import annotations

import math

import numpy as np

from ... import compat
from ...data.detection import load_images


def flip(images: np.ndarray, boxes: list) -> tuple:
    """Left-right flip of a batch and its boxes."""
    return images[:, :, ::-1], [np.stack([b[:, 0], 1 - b[:, 3], b[:, 2], 1 - b[:, 1]], 1) if len(b) else b
                                for b in boxes]


def translate(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, dy: int, dx: int,
              min_visible: float = 0.4):
    """Shift by (dy, dx) pixels with edge padding; boxes shift and are clipped, and objects with
    less than `min_visible` of their area left in view are dropped (a sliver is not an object)."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0)), mode="edge")
    out = padded[abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]
    if len(boxes) == 0:
        return out, boxes, labels
    shifted = boxes + np.array([dy / h, dx / w, dy / h, dx / w], np.float32)
    clipped = np.clip(shifted, 0.0, 1.0)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    keep = area(clipped) >= min_visible * np.maximum(area(shifted), 1e-9)
    return out, clipped[keep], labels[keep]


def normalise(images: np.ndarray, input_spec) -> np.ndarray:
    return ((images.astype(np.float32) - input_spec.mean) / input_spec.std).astype(np.float32)


def batches(split, detector, input_spec, batch_size: int, training: bool, augment=None, seed: int = 0,
            max_steps=None):
    """A keras Sequence of (normalised images, (box targets (B, N, 5), class targets (B, N, ?)))."""
    keras = compat.keras()
    anchors = detector.anchors()

    class Batches(keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.arange(len(split))
            self._shuffle()

        def _shuffle(self):
            if training:
                self.order = np.random.default_rng([seed, 5, self.epoch]).permutation(len(split))

        def __len__(self):
            n = math.ceil(len(split) / batch_size)
            return min(n, max_steps) if max_steps else n

        def __getitem__(self, i):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            images = load_images(split, idx, input_spec.height, input_spec.width)
            boxes = [split.boxes[j] for j in idx]
            labels = [split.labels[j] for j in idx]
            if training and augment is not None:
                images, boxes, labels = self._augment(images, boxes, labels, i)
            t = [detector.targets(anchors, b, l) for b, l in zip(boxes, labels)]
            # a tuple in output order, not a dict by name: QAT renames the output layers
            return normalise(images, input_spec), (np.stack([a for a, _ in t]), np.stack([c for _, c in t]))

        def _augment(self, images, boxes, labels, i):
            rng = np.random.default_rng([seed, 6, self.epoch, i])
            images = images.copy()
            if augment.flip:
                flips = rng.random(len(images)) < 0.5
                if flips.any():
                    sub, fb = flip(images[flips], [b for b, f in zip(boxes, flips) if f])
                    images[flips] = sub
                    it = iter(fb)
                    boxes = [next(it) if f else b for b, f in zip(boxes, flips)]
            if augment.translate > 0:
                h, w = images.shape[1:3]
                for k in range(len(images)):
                    dy, dx = (rng.uniform(-1, 1, 2) * augment.translate * np.array([h, w])).astype(int)
                    images[k], boxes[k], labels[k] = translate(images[k], boxes[k], labels[k], dy, dx)
            return images, boxes, labels

        def on_epoch_end(self):
            self.epoch += 1
            self._shuffle()

    return Batches()


def eval_images(split, input_spec, batch_size: int = 32):
    """Normalised test images in order, a batch at a time (numpy)."""
    for start in range(0, len(split), batch_size):
        idx = np.arange(start, min(start + batch_size, len(split)))
        yield normalise(load_images(split, idx, input_spec.height, input_spec.width), input_spec)
