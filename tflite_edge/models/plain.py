"""A small plain CNN: the fastest model to train and a baseline for tests."""
from .registry import MODELS
from .layers import StrideTracker, conv_bn, make_divisible


@MODELS.register("plain_cnn", summary="4 conv-BN-act layers; tiny and quick")
def plain_cnn(inputs, spec):
    a, act, st = spec.width, spec.activation, StrideTracker()
    x = conv_bn(inputs, make_divisible(32 * a), 3, 1, "conv0", act)
    for i, (c, s) in enumerate([(32, 2), (64, 2), (128, 2)], start=1):
        x = st.step(s, conv_bn(x, make_divisible(c * a), 3, s, f"conv{i}", act))
    st.features["last"] = x
    return st.features
