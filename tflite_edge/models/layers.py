"""Shared building blocks. Only serialisable stock layers (no Lambda), so saved models load in safe mode."""
from __future__ import annotations

from .. import compat


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def hard_sigmoid(x, name: str):
    # relu6(x + 3) / 6 written as the TFLite converter's pattern: ADD with a fused RELU6, then MUL
    # (two ops, both delegated), and x * hard_sigmoid(x) fuses to the HARD_SWISH builtin. The
    # clip(x / 6 + 0.5, 0, 1) form converted to MUL, ADD, MINIMUM, RELU (+ MUL for hard-swish):
    # five ops per activation, cut into separate XNNPACK partitions in int8 (issue 22).
    L = compat.keras().layers
    x = L.Rescaling(1.0, offset=3.0, name=f"{name}_hsig_shift")(x)
    x = L.ReLU(6.0, name=f"{name}_hsig")(x)
    return L.Rescaling(1.0 / 6.0, name=f"{name}_hsig_scale")(x)


def activation(x, kind: str, name: str):
    L = compat.keras().layers
    if kind == "relu6":
        return L.ReLU(6.0, name=f"{name}_relu6")(x)
    if kind == "relu":
        return L.ReLU(name=f"{name}_relu")(x)
    if kind == "hard_swish":
        return L.Multiply(name=f"{name}_hswish")([x, hard_sigmoid(x, name)])
    raise ValueError(f"unknown activation {kind}")


def conv_bn(x, filters: int, kernel: int, stride: int, name: str, act: str | None):
    L = compat.keras().layers
    x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # Momentum 0.9 (not Keras' 0.99/0.999): short from-scratch runs get usable moving statistics.
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-3, name=f"{name}_bn")(x)
    return activation(x, act, name) if act else x


def dw_bn(x, kernel: int, stride: int, name: str, act: str | None):
    L = compat.keras().layers
    x = L.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-3, name=f"{name}_dw_bn")(x)
    return activation(x, act, f"{name}_dw") if act else x


def squeeze_excite(x, channels: int, name: str):
    L = compat.keras().layers
    s = L.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    s = L.Conv2D(make_divisible(channels / 4), 1, name=f"{name}_se_reduce")(s)
    s = L.ReLU(name=f"{name}_se_relu")(s)
    s = L.Conv2D(channels, 1, name=f"{name}_se_expand")(s)
    s = hard_sigmoid(s, f"{name}_se")
    return L.Multiply(name=f"{name}_se_mul")([x, s])


class StrideTracker:
    """Records the last tensor at each output stride, giving heads their named feature maps."""

    def __init__(self):
        self.stride, self.features = 1, {}

    def step(self, stride: int, x):
        self.stride *= stride
        self.features[f"stride_{self.stride}"] = x
        return x
