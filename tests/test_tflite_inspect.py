"""Reading sparsity and distinct values back from .tflite flatbuffers."""
from __future__ import annotations

import numpy as np
import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.tflite_inspect import inspect_tflite, summarize


@pytest.fixture(scope="module")
def known_model():
    """Conv kernel: half zeros, 3 distinct non-zero values; Dense kernel dense and varied."""
    from tflite_edge import compat

    keras = compat.keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, use_bias=False, name="conv")(inp)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(3, name="fc")(x)
    model = keras.Model(inp, out)
    k = np.zeros((3, 3, 2, 4), np.float32)
    k.reshape(-1)[::2] = np.tile([0.5, -0.25, 1.0], 100)[: k.size // 2]
    model.get_layer("conv").kernel.assign(k)
    return model


def _convert(model, fmt):
    from tflite_edge.export import convert_keras

    calib = np.random.default_rng(0).random((8, 8, 8, 2)).astype(np.float32)
    return convert_keras(model, fmt, calib)


def test_float32_exact(known_model):
    info = inspect_tflite(_convert(known_model, "float32"))
    conv = next(t for t in info["tensors"] if t["op"] == "CONV_2D")
    fc = next(t for t in info["tensors"] if t["op"] == "FULLY_CONNECTED")
    assert conv["dtype"] == "float32" and conv["count"] == 72
    assert conv["sparsity"] == 0.5 and conv["unique_values"] == 4  # 0 and three values
    assert fc["sparsity"] == 0.0 and fc["unique_values"] > 3
    assert info["summary"]["weights"] == 72 + 12


def test_int8_keeps_zeros_and_counts_per_channel(known_model, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(_convert(known_model, "int8"))
    info = inspect_tflite(path)
    conv = next(t for t in info["tensors"] if t["op"] == "CONV_2D")
    assert conv["dtype"] == "int8" and conv["sparsity"] == 0.5
    assert conv["unique_values_per_channel_max"] <= 4
    s = summarize(path, op_types=("CONV_2D",))
    assert s["sparsity"] == 0.5 and s["weights"] == 72


def test_float16_weights_are_followed_through_dequantize(known_model):
    info = inspect_tflite(_convert(known_model, "float16"))
    conv = next(t for t in info["tensors"] if t["op"] == "CONV_2D")
    assert conv["dtype"] == "float16" and conv["sparsity"] == 0.5


def test_not_a_flatbuffer(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(UserInputError, match="not a TFLite flatbuffer"):
        inspect_tflite(bad)
