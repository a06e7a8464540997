"""What SSD-Lite and Tiny-YOLO share: feature-map lookup, grid sizes, the two named outputs."""
from __future__ import annotations

import math

from ... import compat
from ...errors import UserInputError


def feature(features: dict, name: str, backbone: str):
    if name not in features:
        have = sorted(k for k in features if k.startswith("stride_"))
        raise UserInputError(f"detector.feature_maps: backbone '{backbone}' has no '{name}' (it has "
                             f"{', '.join(have)}); pick from those or another model.name")
    return features[name]


def grid_size(input_size: int, feature_name: str) -> int:
    # 'same' padding rounds up at every stride-2 step.
    return math.ceil(input_size / int(feature_name.split("_")[1]))


def flatten(x, per_cell: int, name: str):
    """(B, g, g, A*per_cell) -> (B, g*g*A, per_cell) with static sizes: an explicit target shape
    keeps SHAPE/STRIDED_SLICE ops out of the exported graph (the Edge TPU needs static shapes)."""
    L = compat.keras().layers
    g_h, g_w, c = x.shape[1], x.shape[2], x.shape[3]
    return L.Reshape((g_h * g_w * c // per_cell, per_cell), name=name)(x)


def concat(parts, name: str):
    L = compat.keras().layers
    # An identity layer for one part, so the output keeps its fixed name.
    return L.Activation("linear", name=name)(parts[0]) if len(parts) == 1 else \
        L.Concatenate(axis=1, name=name)(parts)
