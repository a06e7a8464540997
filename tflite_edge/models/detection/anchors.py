"""Anchors, box coding, IoU and matching, in numpy (targets are made outside the graph).

Boxes are normalised corners [ymin, xmin, ymax, xmax]; anchors are centre-size [yc, xc, h, w],
the layout `TFLite_Detection_PostProcess` takes.

>>> a = grid_anchors(2, [(0.5, 0.5)])
>>> a.shape
(4, 4)
"""
from __future__ import annotations

import numpy as np

# The usual SSD variances: encodings of well-matched boxes land near unit scale, which helps
# both training and int8 quantization of the box output.
SSD_SCALES = (10.0, 10.0, 5.0, 5.0)


def grid_anchors(grid: int, sizes) -> np.ndarray:
    """(grid*grid*len(sizes), 4) anchors, row-major cells, `sizes` (h, w) per cell, fastest."""
    c = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    yc, xc = np.meshgrid(c, c, indexing="ij")
    out = [[y, x, h, w] for y, x in zip(yc.ravel(), xc.ravel()) for h, w in sizes]
    return np.asarray(out, np.float32).reshape(-1, 4)


def to_corners(cs: np.ndarray) -> np.ndarray:
    yc, xc, h, w = np.moveaxis(cs, -1, 0)
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)


def to_centre(boxes: np.ndarray) -> np.ndarray:
    y0, x0, y1, x1 = np.moveaxis(boxes, -1, 0)
    return np.stack([(y0 + y1) / 2, (x0 + x1) / 2, y1 - y0, x1 - x0], -1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of corner boxes."""
    a, b = a[:, None, :], b[None, :, :]
    ih = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iw = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ih * iw
    area = lambda t: (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def encode(boxes: np.ndarray, anchors: np.ndarray, scales=SSD_SCALES) -> np.ndarray:
    b = to_centre(boxes)
    sy, sx, sh, sw = scales
    return np.stack([sy * (b[:, 0] - anchors[:, 0]) / anchors[:, 2],
                     sx * (b[:, 1] - anchors[:, 1]) / anchors[:, 3],
                     sh * np.log(np.maximum(b[:, 2], 1e-6) / anchors[:, 2]),
                     sw * np.log(np.maximum(b[:, 3], 1e-6) / anchors[:, 3])], -1).astype(np.float32)


def decode(enc: np.ndarray, anchors: np.ndarray, scales=SSD_SCALES) -> np.ndarray:
    """Centre-size encodings -> corner boxes; the same arithmetic as the TFLite postprocess op."""
    sy, sx, sh, sw = scales
    yc = enc[:, 0] / sy * anchors[:, 2] + anchors[:, 0]
    xc = enc[:, 1] / sx * anchors[:, 3] + anchors[:, 1]
    h = np.exp(np.clip(enc[:, 2] / sh, -10, 10)) * anchors[:, 2]
    w = np.exp(np.clip(enc[:, 3] / sw, -10, 10)) * anchors[:, 3]
    return to_corners(np.stack([yc, xc, h, w], -1))


def match(boxes: np.ndarray, labels: np.ndarray, anchors: np.ndarray, threshold: float):
    """SSD matching: (matched gt index per anchor or -1, ) each gt also takes its best anchor,
    so small or oddly shaped objects are never left without a positive."""
    n = len(anchors)
    if len(boxes) == 0:
        return np.full(n, -1, np.int64)
    overlaps = iou(to_corners(anchors), boxes)  # (N, G)
    best_gt = overlaps.argmax(1)
    assigned = np.where(overlaps.max(1) >= threshold, best_gt, -1)
    best_anchor = overlaps.argmax(0)
    assigned[best_anchor] = np.arange(len(boxes))
    return assigned
