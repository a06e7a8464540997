"""Keras -> TFLite in every format the edge needs. Each format is one registered converter setup."""
from __future__ import annotations

import gc
import gzip
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import atomic, compat
from .errors import UserInputError
from .registry import Registry

CONVERTERS = Registry("format")


def _representative(calibration: Optional[np.ndarray], fmt: str) -> Callable:
    if calibration is None or len(calibration) == 0:
        raise UserInputError(f"format {fmt} needs calibration images (recipe: convert.calibration_samples; "
                             "CLI: --calibration DIR)")

    def gen():
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    return gen


@CONVERTERS.register("float32", summary="float32 weights and activations")
def _float32(conv, calibration):
    pass


@CONVERTERS.register("float16", summary="float16 weights, float32 compute on CPU (half the size)")
def _float16(conv, calibration):
    tf = compat.tf()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]


@CONVERTERS.register("dynamic", summary="int8 weights, float activations (no calibration)")
def _dynamic(conv, calibration):
    conv.optimizations = [compat.tf().lite.Optimize.DEFAULT]


def _full_int8(conv, calibration, fmt, io_type=None):
    tf = compat.tf()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration, fmt)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_type is not None:
        conv.inference_input_type = io_type
        conv.inference_output_type = io_type


@CONVERTERS.register("int8", summary="full integer, float32 input/output")
def _int8(conv, calibration):
    _full_int8(conv, calibration, "int8")


@CONVERTERS.register("int8_io", summary="full integer with int8 input/output")
def _int8_io(conv, calibration):
    _full_int8(conv, calibration, "int8_io", compat.tf().int8)


@CONVERTERS.register("uint8_io", summary="full integer with uint8 input/output")
def _uint8_io(conv, calibration):
    _full_int8(conv, calibration, "uint8_io", compat.tf().uint8)


@CONVERTERS.register("int16x8", summary="int16 activations, int8 weights (accuracy-sensitive models)")
def _int16x8(conv, calibration):
    tf = compat.tf()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration, "int16x8")
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]


@CONVERTERS.register("edgetpu", summary="Edge TPU-ready: full int8, uint8 I/O, static batch 1 (then "
                                         "edgetpu_compiler when installed)", static_batch=True)
def _edgetpu(conv, calibration):
    _full_int8(conv, calibration, "edgetpu", compat.tf().uint8)


def _static_batch(model):
    """The same model with batch fixed to 1: the Edge TPU compiler refuses dynamic shapes."""
    keras = compat.keras()
    inp = keras.Input(shape=model.input_shape[1:], batch_size=1, name="image")
    return keras.Model(inp, model(inp, training=False), name=f"{model.name}_b1")


def convert_keras(model, fmt: str, calibration: Optional[np.ndarray] = None) -> bytes:
    """Convert an in-memory tf_keras model to TFLite flatbuffer bytes in format `fmt`."""
    setup = CONVERTERS.get(fmt)
    if CONVERTERS.meta(fmt).get("static_batch"):
        model = _static_batch(model)
    tf = compat.tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    setup(conv, calibration)
    try:
        with compat.quiet_native_stderr():
            return conv.convert()
    finally:
        del conv
        gc.collect()  # conversions hold graph copies; many in one process add up (STACK.md)


def gzip_size(data: bytes) -> int:
    """Size after gzip -9: what pruning/clustering actually buy in a download."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def write_artifact(data: bytes, path: Path, fmt: str) -> dict:
    atomic.write_bytes(path, data)
    return {"format": fmt, "size_bytes": len(data), "gzip_bytes": gzip_size(data)}


def load_keras_model(path: Path, trust_lambda: bool = False):
    """Load a user's .keras/.h5 model in safe mode; Lambda layers refused unless trusted."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: model file not found")
    if path.suffix not in (".keras", ".h5", ".hdf5") and not path.is_dir():
        raise UserInputError(f"{path}: expected a Keras model (.keras, .h5 or a SavedModel folder)")
    keras = compat.keras()
    try:
        if path.suffix == ".keras":
            model = keras.models.load_model(path, compile=False, safe_mode=not trust_lambda)
        else:
            if not trust_lambda and path.is_file() and _h5_declares_lambda(path):
                raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                                     "--trust-lambda only if you trust the file")
            model = keras.models.load_model(path, compile=False)
    except UserInputError:
        raise
    except Exception as e:  # Keras raises many types for a bad file; all mean "not a model"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Lambda" in first or "safe_mode" in first:
            raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                                 "--trust-lambda only if you trust the file") from None
        raise UserInputError(f"{path}: not a loadable Keras model ({first[:160]})") from None
    if not trust_lambda and _has_lambda(model):
        raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                             "--trust-lambda only if you trust the file")
    return model


def _h5_declares_lambda(path: Path) -> bool:
    """Look in the HDF5 model config before loading: building a Lambda layer runs its code."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
    except OSError:
        return False  # not HDF5: load_model reports it
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    return bool(config) and '"class_name": "Lambda"' in config


def _has_lambda(model) -> bool:
    keras = compat.keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.Lambda):
            return True
        if hasattr(layer, "layers") and _has_lambda(layer):
            return True
    return False


NEEDS_CALIBRATION = {"int8", "int8_io", "uint8_io", "int16x8", "edgetpu"}


def edgetpu_extras(ctx, art: dict) -> list:
    """Check an edgetpu artifact op by op; compile it when the compiler is installed.

    Returns extra artifacts (the compiled model). The check result is stored on `art`.
    """
    from .edgetpu import check_model, compile_model, find_compiler

    check = check_model(ctx.path(art["path"]))
    art["edgetpu_check"] = {k: check[k] for k in ("on_tpu", "on_cpu", "verdict", "summary")}
    ctx.log(f"  edgetpu check: {check['on_tpu']} op(s) on the TPU, {check['on_cpu']} on the CPU ({check['verdict']})")
    if find_compiler() is None:
        art["edgetpu_compiler"] = "not installed (see converters/README.md); compiled model not produced"
        return []
    log = compile_model(ctx.path(art["path"]), ctx.path("artifacts"))
    compiled = Path(log["output_path"]) if log.get("output_path") else None
    art["edgetpu_compiler"] = log
    if compiled is None or not compiled.is_file():
        return []
    data = compiled.read_bytes()
    rel = str(compiled.relative_to(ctx.run_dir.resolve()))
    return [{"name": f"{art['name']}_compiled", "path": rel, "format": "edgetpu_compiled",
             "size_bytes": len(data), "gzip_bytes": gzip_size(data), "runs_on": "coral"}]


def calibration_images(ctx) -> np.ndarray:
    """The first `convert.calibration_samples` training images, preprocessed like evaluation."""
    if ctx.recipe.task == "detection":  # images read from annotation records, not an array
        from .detect.stages import _calibration
        return _calibration(ctx)
    from .data.pipeline import numpy_batches

    d, n = ctx.dataset, ctx.recipe.convert.calibration_samples
    return np.concatenate(list(numpy_batches(d.train_x[:n], d, ctx.input_spec)))


def convert(ctx) -> dict:
    """Stage `convert`: every format in `convert.formats`, written atomically to artifacts/."""
    if ctx.recipe.task == "detection":
        from .detect.stages import convert as convert_detection
        return convert_detection(ctx)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    formats = ctx.recipe.convert.formats
    calibration = calibration_images(ctx) if NEEDS_CALIBRATION & set(formats) else None
    artifacts = []
    for fmt in formats:
        name = f"{ctx.recipe.name}_{fmt}"
        rel = f"artifacts/{name}.tflite"
        info = write_artifact(convert_keras(model, fmt, calibration), ctx.path(rel), fmt)
        artifacts.append({"name": name, "path": rel, **info})
        ctx.log(f"  {rel}: {info['size_bytes']:,} bytes ({info['gzip_bytes']:,} gzipped)")
        if fmt == "edgetpu":
            artifacts += edgetpu_extras(ctx, artifacts[-1])
    return {"artifacts": artifacts}
