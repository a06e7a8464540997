"""Tiny-YOLO style detector: conv heads on the stride-16 and stride-32 grids, three anchor shapes
per cell, sigmoid objectness and classes, the YOLO loss (responsible anchors per object)."""
from __future__ import annotations

import math

import numpy as np

from ... import compat
from ..layers import conv_bn
from .registry import DETECTORS
from .anchors import grid_anchors, iou, to_corners
from .base import concat, feature, flatten, grid_size

# (h, w) as fractions of the image, per feature map: small shapes on the finer grid.
DEFAULT_ANCHORS = {"stride_16": [[0.1, 0.1], [0.2, 0.12], [0.12, 0.2]],
                   "stride_32": [[0.3, 0.3], [0.5, 0.35], [0.35, 0.5]]}
# Besides its best prior, an object is a positive for every prior in its cell (on any grid) that
# fits its shape this well: one positive per object among ~100 anchors per image left the
# objectness signal too sparse to learn in a short schedule (mAP@.5 0.06 on shapes_tiny_yolo).
POSITIVE_SHAPE_IOU = 0.4
# Objectness starts at this probability (the focal-loss prior, Lin et al. 2017), not 0.5: at 0.5 the
# negatives' loss dwarfs the positives' and the first steps only push every anchor to background.
OBJECTNESS_PRIOR = 0.01


@DETECTORS.register("tiny_yolo", summary="Tiny-YOLO style: grid heads, anchor priors, YOLO loss")
class TinyYolo:
    scales = (1.0, 1.0, 1.0, 1.0)
    default_feature_maps = ("stride_16", "stride_32")

    def __init__(self, spec, input_size: int, num_classes: int):
        self.spec, self.input_size, self.num_classes = spec, input_size, num_classes
        self.tf = compat.tf()  # taken now: postprocess_inputs is traced, and compat touches os.environ
        self.feature_maps = tuple(spec.feature_maps or self.default_feature_maps)
        self.sizes = {f: [tuple(a) for a in (spec.anchors or {}).get(f, DEFAULT_ANCHORS.get(f, [[0.2, 0.2]]))]
                      for f in self.feature_maps}

    def anchors(self) -> np.ndarray:
        return np.concatenate([grid_anchors(grid_size(self.input_size, f), self.sizes[f])
                               for f in self.feature_maps])

    def _grid_per_anchor(self) -> np.ndarray:
        return np.concatenate([np.full(grid_size(self.input_size, f) ** 2 * len(self.sizes[f]),
                                       grid_size(self.input_size, f), np.float32)
                               for f in self.feature_maps])

    def heads(self, features: dict, backbone: str, activation: str):
        L = compat.keras().layers
        boxes, logits = [], []
        for f in self.feature_maps:
            a = len(self.sizes[f])
            x = conv_bn(feature(features, f, backbone), self.spec.head_channels or 64, 3, 1,
                        f"{f}_head", activation)
            boxes.append(flatten(L.Conv2D(a * 4, 1, name=f"{f}_box_out")(x), 4, f"{f}_box_flat"))
            bias = [math.log(OBJECTNESS_PRIOR / (1 - OBJECTNESS_PRIOR))] + [0.0] * self.num_classes
            cls = L.Conv2D(a * (1 + self.num_classes), 1, name=f"{f}_cls_out",
                           bias_initializer=compat.keras().initializers.Constant(bias * a))(x)
            logits.append(flatten(cls, 1 + self.num_classes, f"{f}_cls_flat"))
        return concat(boxes, "box_encodings"), concat(logits, "class_logits")

    def targets(self, anchors, boxes, labels):
        n, c = len(anchors), self.num_classes
        box_t = np.zeros((n, 5), np.float32)
        cls_t = np.zeros((n, 2 + c), np.float32)
        cls_t[:, 1] = 1.0
        if len(boxes) == 0:
            return box_t, cls_t
        grid = self._grid_per_anchor()
        yc, xc = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        # Anchors overlapping an object well are not counted as negatives (YOLO's ignore rule,
        # here on the anchor boxes: targets are made outside the graph).
        cls_t[iou(to_corners(anchors), boxes).max(1) > self.spec.match_iou, 1] = 0.0
        best, extra = [], []
        for g in range(len(boxes)):
            # The responsible anchors: in the object's cell (on each grid), the prior closest in
            # shape, and every other prior there that fits the shape well (POSITIVE_SHAPE_IOU).
            cell_y = np.floor(yc[g] * grid).clip(0, grid - 1)
            cell_x = np.floor(xc[g] * grid).clip(0, grid - 1)
            in_cell = (np.abs(anchors[:, 0] * grid - 0.5 - cell_y) < 1e-3) & \
                      (np.abs(anchors[:, 1] * grid - 0.5 - cell_x) < 1e-3)
            inter = np.minimum(anchors[:, 2], h[g]) * np.minimum(anchors[:, 3], w[g])
            shape_iou = inter / (anchors[:, 2] * anchors[:, 3] + h[g] * w[g] - inter)
            best.append((int(np.argmax(np.where(in_cell, shape_iou, -1.0))), g))
            extra += [(int(k), g) for k in np.nonzero(in_cell & (shape_iou >= POSITIVE_SHAPE_IOU))[0]]
        for k, g in extra + best:  # best last: an object's best prior is never taken by another's extra
            cell_y, cell_x = np.round(anchors[k, :2] * grid[k] - 0.5)  # the anchor's own cell
            box_t[k] = [yc[g] * grid[k] - cell_y, xc[g] * grid[k] - cell_x,
                        np.log(max(h[g], 1e-6) / anchors[k, 2]), np.log(max(w[g], 1e-6) / anchors[k, 3]), 1.0]
            cls_t[k, :2] = 1.0
            cls_t[k, 2:] = 0.0
            cls_t[k, 2 + labels[g]] = 1.0
        return box_t, cls_t

    def losses(self):
        from .losses import yolo_losses

        return yolo_losses()

    def postprocess_inputs(self, box, logits):
        """YOLO offsets -> centre-size encodings (scales 1) the postprocess op decodes the SSD way:
        yc = ya + (sigmoid(ty) - 0.5) / grid, h = ha * exp(th)."""
        tf = self.tf
        anchors = self.anchors()
        k = (1.0 / (self._grid_per_anchor()[:, None] * anchors[:, 2:4])).astype(np.float32)
        enc = tf.concat([(tf.sigmoid(box[..., :2]) - 0.5) * k, box[..., 2:]], -1)
        probs = tf.sigmoid(logits[..., :1]) * tf.sigmoid(logits[..., 1:])
        return enc, tf.concat([tf.zeros_like(probs[..., :1]), probs], -1)
