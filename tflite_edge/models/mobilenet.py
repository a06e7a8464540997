"""MobileNet v1, v2, v3-small and v3-large, with width multiplier and a choice of activation.

Written here rather than taken from keras.applications so the activation is selectable (ReLU6
quantizes best; hard-swish is an option), BatchNorm momentum suits short runs, and heads get
named feature maps.
"""
from __future__ import annotations

import math

from .. import compat
from .registry import MODELS
from .layers import StrideTracker, activation, conv_bn, dw_bn, make_divisible, squeeze_excite


@MODELS.register("mobilenet_v1", summary="MobileNet v1: depthwise-separable stack (Howard et al. 2017)")
def mobilenet_v1(inputs, spec):
    a, act, st = spec.width, spec.activation, StrideTracker()
    x = st.step(spec.stem_stride, conv_bn(inputs, make_divisible(32 * a), 3, spec.stem_stride, "stem", act))
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
             [(1024, 2), (1024, 1)]
    for i, (c, s) in enumerate(blocks):
        x = dw_bn(x, 3, s, f"block{i}", act)
        x = st.step(s, conv_bn(x, make_divisible(c * a), 1, 1, f"block{i}_pw", act))
    st.features["last"] = x
    return st.features


def _inverted_residual(x, expansion, out_ch, stride, kernel, name, act, se=False):
    L = compat.keras().layers
    in_ch = x.shape[-1]
    h = x
    if expansion != 1:
        h = conv_bn(h, make_divisible(in_ch * expansion), 1, 1, f"{name}_expand", act)
    h = dw_bn(h, kernel, stride, name, act)
    if se:
        h = squeeze_excite(h, h.shape[-1], name)
    h = conv_bn(h, out_ch, 1, 1, f"{name}_project", None)
    if stride == 1 and in_ch == out_ch:
        h = L.Add(name=f"{name}_add")([x, h])
    return h


@MODELS.register("mobilenet_v2", summary="MobileNet v2: inverted residuals, linear bottlenecks")
def mobilenet_v2(inputs, spec):
    a, act, st = spec.width, spec.activation, StrideTracker()
    x = st.step(spec.stem_stride, conv_bn(inputs, make_divisible(32 * a), 3, spec.stem_stride, "stem", act))
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1)]
    # `search:` varies these per stage; the defaults rebuild the paper's network exactly.
    kernels = spec.kernel_sizes or [3] * len(cfg)
    expansions = spec.expansions or [t for t, _, _, _ in cfg]
    i = 0
    for stage, (_, c, n, s) in enumerate(cfg):
        for j in range(max(1, math.ceil(n * spec.depth_multiplier))):
            stride = s if j == 0 else 1
            x = _inverted_residual(x, expansions[stage], make_divisible(c * a), stride, kernels[stage],
                                   f"block{i}", act)
            st.step(stride, x)
            i += 1
    last = make_divisible(1280 * a) if a > 1.0 else 1280
    x = conv_bn(x, last, 1, 1, "head", act)
    st.features["stride_32"] = x
    st.features["last"] = x
    return st.features


# (kernel, expansion channels, out channels, squeeze-excite, uses the "hard" activation, stride)
_V3_SMALL = [(3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
             (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
             (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1), (5, 288, 96, True, True, 2),
             (5, 576, 96, True, True, 1), (5, 576, 96, True, True, 1)]
_V3_LARGE = [(3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
             (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
             (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
             (3, 184, 80, False, True, 1), (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
             (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1), (5, 960, 160, True, True, 1)]


def _mobilenet_v3(inputs, spec, rows):
    a, st = spec.width, StrideTracker()
    # The paper's hard-swish positions take the recipe's activation (ReLU6 by default: it
    # quantizes better); the paper's ReLU positions stay ReLU.
    hard = spec.activation
    x = st.step(spec.stem_stride, conv_bn(inputs, make_divisible(16 * a), 3, spec.stem_stride, "stem", hard))
    for i, (k, exp, out, se, uses_hard, s) in enumerate(rows):
        act = hard if uses_hard else "relu"
        in_ch = x.shape[-1]
        expansion = make_divisible(exp * a) / in_ch
        x = _inverted_residual(x, expansion, make_divisible(out * a), s, k, f"block{i}", act, se)
        st.step(s, x)
    x = conv_bn(x, make_divisible(x.shape[-1] * 6), 1, 1, "head", hard)
    st.features["stride_32"] = x
    st.features["last"] = x
    return st.features


@MODELS.register("mobilenet_v3_small", summary="MobileNet v3-small: SE blocks, 5x5 kernels")
def mobilenet_v3_small(inputs, spec):
    return _mobilenet_v3(inputs, spec, _V3_SMALL)


@MODELS.register("mobilenet_v3_large", summary="MobileNet v3-large")
def mobilenet_v3_large(inputs, spec):
    return _mobilenet_v3(inputs, spec, _V3_LARGE)
