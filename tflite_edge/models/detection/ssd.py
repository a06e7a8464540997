"""SSD-Lite (Sandler et al. 2018): depthwise-separable box and class heads on each feature map,
softmax classes with a background class, multibox loss with hard negative mining."""
from __future__ import annotations

import numpy as np

from ... import compat
from ..layers import conv_bn, dw_bn
from .registry import DETECTORS
from .anchors import SSD_SCALES, encode, grid_anchors, match
from .base import concat, feature, flatten, grid_size


@DETECTORS.register("ssdlite", summary="SSD-Lite: depthwise-separable heads, multibox loss")
class SsdLite:
    scales = SSD_SCALES
    default_feature_maps = ("stride_8", "stride_16", "stride_32")

    def __init__(self, spec, input_size: int, num_classes: int):
        self.spec, self.input_size, self.num_classes = spec, input_size, num_classes
        self.tf = compat.tf()  # taken now: postprocess_inputs is traced, and compat touches os.environ
        self.feature_maps = tuple(spec.feature_maps or self.default_feature_maps)

    def _sizes(self, k: int):
        """(h, w) anchor sizes on feature map k: the SSD scale ladder and aspect ratios."""
        s, m = self.spec, len(self.feature_maps)
        lo, hi = s.min_scale, s.max_scale
        scale = lo + (hi - lo) * k / max(1, m - 1)
        nxt = lo + (hi - lo) * (k + 1) / max(1, m - 1) if k + 1 < m else 1.0
        out = [(scale / np.sqrt(r), scale * np.sqrt(r)) for r in s.aspect_ratios]
        out.append((np.sqrt(scale * nxt),) * 2)
        return out

    @property
    def anchors_per_cell(self) -> int:
        return len(self.spec.aspect_ratios) + 1

    def anchors(self) -> np.ndarray:
        return np.concatenate([grid_anchors(grid_size(self.input_size, f), self._sizes(k))
                               for k, f in enumerate(self.feature_maps)])

    def heads(self, features: dict, backbone: str, activation: str):
        L = compat.keras().layers
        a, k = self.anchors_per_cell, self.num_classes + 1
        boxes, logits = [], []
        for f in self.feature_maps:
            x = feature(features, f, backbone)
            if self.spec.head_channels:
                x = conv_bn(x, self.spec.head_channels, 1, 1, f"{f}_head", activation)
            b = dw_bn(x, 3, 1, f"{f}_box", activation)
            b = L.Conv2D(a * 4, 1, name=f"{f}_box_out")(b)
            c = dw_bn(x, 3, 1, f"{f}_cls", activation)
            c = L.Conv2D(a * k, 1, name=f"{f}_cls_out")(c)
            boxes.append(flatten(b, 4, f"{f}_box_flat"))
            logits.append(flatten(c, k, f"{f}_cls_flat"))
        return concat(boxes, "box_encodings"), concat(logits, "class_logits")

    def targets(self, anchors, boxes, labels):
        """Per image: box target (N, 5) = encoding + positive flag; class target (N, 1), 0 = background."""
        if len(boxes) == 0:  # augmentation can push every object out of view
            return np.zeros((len(anchors), 5), np.float32), np.zeros((len(anchors), 1), np.float32)
        assigned = match(boxes, labels, anchors, self.spec.match_iou)
        pos = assigned >= 0
        box_t = np.zeros((len(anchors), 5), np.float32)
        if pos.any():
            box_t[pos, :4] = encode(boxes[assigned[pos]], anchors[pos], self.scales)
            box_t[pos, 4] = 1.0
        cls_t = np.where(pos, labels[np.maximum(assigned, 0)] + 1, 0).astype(np.float32)
        return box_t, cls_t[:, None]

    def losses(self):
        from .losses import multibox_losses

        return multibox_losses(self.spec.neg_pos_ratio)

    def postprocess_inputs(self, box, logits):
        """(encodings, scores) for the postprocess op; background is column 0."""
        return box, self.tf.nn.softmax(logits, axis=-1)
