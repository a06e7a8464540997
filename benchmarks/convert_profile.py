"""Where a conversion's time goes, and the trace-once export against the Keras converter path.

    .venv/bin/python benchmarks/convert_profile.py [--formats float32,float16,dynamic,int8,uint8_io,edgetpu]

Builds the quickstart's model (MobileNetV2 0.35, 32 px, relu6, stem stride 1, 4 classes; latency
and conversion time do not depend on the weights' values), then:
1. profiles one `TFLiteConverter.from_keras_model(...).convert()` (the path every format took
   before) with cProfile and prints the share of its Keras SavedModel export;
2. converts every format both ways, in one process: the Keras path (one from_keras_model per
   format, batch-1 wrapper for edgetpu, as convert.py did) and export.convert_formats (one traced
   serving function per batch layout, reused for every format), and prints seconds per format,
   the totals, and whether both give the same outputs on 64 random images (max |difference|).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def keras_path(model, fmt, calibration) -> bytes:
    """The previous convert_keras: the Keras converter, once per format."""
    from tflite_edge import compat
    from tflite_edge.export import CONVERTERS, static_batch

    tf, keras = compat.tf(), compat.keras()
    if static_batch(fmt):
        inp = keras.Input(shape=model.input_shape[1:], batch_size=1, name="image")
        model = keras.Model(inp, model(inp, training=False))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    CONVERTERS.get(fmt)(conv, calibration)
    with compat.quiet_native_stderr():
        data = conv.convert()
    del conv
    gc.collect()
    return data


def outputs(data: bytes, images: np.ndarray) -> np.ndarray:
    from tflite_edge.runtime import quantize_input
    from tflite_edge.runtime import interpreter_module

    it = interpreter_module().Interpreter(model_content=data)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in images:
        if inp["shape_signature"][0] == -1 or inp["shape"][0] != 1:
            it.resize_tensor_input(inp["index"], [1, *x.shape])
        it.allocate_tensors()
        it.set_tensor(inp["index"], quantize_input(x[None], inp))
        it.invoke()
        y = it.get_tensor(out["index"]).astype(np.float32)
        scale, zero = out["quantization"]
        res.append((y - zero) * scale if scale else y)
    return np.concatenate(res)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default="float32,float16,dynamic,int8,uint8_io,edgetpu")
    args = ap.parse_args()
    formats = args.formats.split(",")
    from tflite_edge.export import convert_formats
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    spec = ModelSpec(name="mobilenet_v2", width=0.35, activation="relu6", stem_stride=1)
    model = build_classifier(spec, InputSpec(height=32, width=32, channels=3), 4)
    rng = np.random.default_rng(0)
    calibration = rng.random((200, 32, 32, 3)).astype(np.float32) * 2 - 1
    images = rng.random((64, 32, 32, 3)).astype(np.float32) * 2 - 1
    print(f"model: MobileNetV2 0.35 32 px, {model.count_params():,} parameters; cores: {os.cpu_count()}")

    keras_path(model, "float32", None)  # warm the converter's imports before profiling
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    keras_path(model, "float32", None)
    prof.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats
    save = sum(v[3] for k, v in stats.items() if k[2] == "_convert_keras_to_saved_model")
    print(f"profile of one from_keras_model float32 conversion: {total:.1f} s, of which "
          f"_convert_keras_to_saved_model (the Keras SavedModel export) {save:.1f} s ({100 * save / total:.0f}%)")

    old, t_old = {}, {}
    for fmt in formats:
        t0 = time.perf_counter()
        old[fmt] = keras_path(model, fmt, calibration)
        t_old[fmt] = time.perf_counter() - t0
    new, t_new = {}, {}
    t0 = time.perf_counter()
    for fmt, data in convert_formats(model, formats, calibration):
        new[fmt], t_new[fmt] = data, time.perf_counter() - t0
        t0 = time.perf_counter()
    print(f"\n{'format':<10} {'keras path s':>12} {'export s':>9} {'size old':>9} {'size new':>9} {'max |diff|':>10}")
    for fmt in formats:
        diff = float(np.max(np.abs(outputs(old[fmt], images) - outputs(new[fmt], images))))
        print(f"{fmt:<10} {t_old[fmt]:>12.1f} {t_new[fmt]:>9.1f} {len(old[fmt]):>9} {len(new[fmt]):>9} {diff:>10.2e}")
    print(f"{'total':<10} {sum(t_old.values()):>12.1f} {sum(t_new.values()):>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
