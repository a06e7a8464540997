"""Keras -> TFLite in every format the edge needs: each format's converter setup and one export per model.

Why not `TFLiteConverter.from_keras_model`: it saves the whole Keras model as a SavedModel first,
tracing every layer's call for Keras' own reloading, and does so again for every format. On the
quickstart's MobileNetV2 0.35 that save was 56 of the 60 s of one conversion (benchmarks/
convert_profile.py, RESULTS.md). An `Export` traces the model once into a serving function
(`serving_default`: image -> named outputs), saves that function with the model's variables only,
and every format converts from that folder.

>>> with Export(model, input_shape=(32, 32, 3)) as exported:                     # doctest: +SKIP
...     data = {fmt: exported.convert(fmt, calibration) for fmt in ("float32", "int8")}
"""
from __future__ import annotations

import gc
import gzip
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from . import atomic, compat
from .errors import UserInputError
from .formats import FORMATS
from .registry import Registry

# How each format of formats.py is made: a setup of the TFLiteConverter, registered by its name.
CONVERTERS = Registry("format")
INPUT_NAME = "image"  # the signature's input name in every artifact


def _representative(calibration: Optional[np.ndarray], fmt: str) -> Callable:
    if calibration is None or len(calibration) == 0:
        raise UserInputError(f"format {fmt} needs calibration images (recipe: convert.calibration_samples; "
                             "CLI: --calibration DIR)")

    def gen():
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    return gen


@CONVERTERS.register("float32")
def _float32(conv, calibration):
    pass


@CONVERTERS.register("float16")
def _float16(conv, calibration):
    tf = compat.tf()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]


@CONVERTERS.register("dynamic")
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


@CONVERTERS.register("int8")
def _int8(conv, calibration):
    _full_int8(conv, calibration, "int8")


@CONVERTERS.register("int8_io")
def _int8_io(conv, calibration):
    _full_int8(conv, calibration, "int8_io", compat.tf().int8)


@CONVERTERS.register("uint8_io")
def _uint8_io(conv, calibration):
    _full_int8(conv, calibration, "uint8_io", compat.tf().uint8)


@CONVERTERS.register("int16x8")
def _int16x8(conv, calibration):
    tf = compat.tf()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration, "int16x8")
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]


@CONVERTERS.register("edgetpu")
def _edgetpu(conv, calibration):
    _full_int8(conv, calibration, "edgetpu", compat.tf().uint8)


def static_batch(fmt: str) -> bool:
    """Formats whose artifact has batch fixed to 1 (the Edge TPU compiler refuses dynamic shapes)."""
    return FORMATS.get(fmt).static_batch


class Export:
    """A model traced once into a `serving_default` signature and saved with its variables only.

    `serve(image) -> {name: tensor}` is the traced function (default: the model itself, one output
    named `output_names[0]`, else `output_0`...); `batch_size` 1 gives the static batch the Edge
    TPU needs, None a dynamic batch. Use as a context manager: the folder is temporary."""

    def __init__(self, model, input_shape: Sequence[int], batch_size: Optional[int] = None,
                 serve: Optional[Callable] = None, output_names: Sequence[str] = (), input_name: str = INPUT_NAME):
        tf = compat.tf()
        self._folder = tempfile.TemporaryDirectory(prefix="tflite_edge_export_")
        names = list(output_names) or list(getattr(model, "output_names", None) or [])

        def default_serve(image):
            out = model(image, training=False)
            outs = out if isinstance(out, (list, tuple)) else [out]
            keys = names if len(names) == len(outs) else [f"output_{i}" for i in range(len(outs))]
            return dict(zip(keys, outs))

        fn = tf.function(serve or default_serve, input_signature=[
            tf.TensorSpec([batch_size, *input_shape], tf.float32, name=input_name)])
        module = tf.Module()
        module.variables_ = list(model.variables)  # tracked for the save; the Keras object is not
        with compat.quiet_native_stderr():
            tf.saved_model.save(module, self._folder.name, signatures=fn.get_concrete_function())

    @property
    def folder(self) -> str:
        return self._folder.name

    def convert(self, fmt: str, calibration: Optional[np.ndarray] = None,
                configure: Optional[Callable] = None) -> bytes:
        """TFLite bytes in format `fmt`; `configure(converter)` runs after the format's setup."""
        tf = compat.tf()
        setup = CONVERTERS.get(fmt)
        conv = tf.lite.TFLiteConverter.from_saved_model(self.folder)
        setup(conv, calibration)
        if configure is not None:
            configure(conv)
        try:
            with compat.quiet_native_stderr():
                return conv.convert()
        finally:
            del conv
            gc.collect()  # conversions hold graph copies; many in one process add up (STACK.md)

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> "Export":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def convert_keras(model, fmt: str, calibration: Optional[np.ndarray] = None) -> bytes:
    """Convert an in-memory tf_keras model to TFLite flatbuffer bytes in format `fmt`."""
    CONVERTERS.get(fmt)  # an unknown format fails before any tracing
    return dict(convert_formats(model, [fmt], calibration))[fmt]


def convert_formats(model, formats: Sequence[str], calibration: Optional[np.ndarray] = None,
                    input_name: str = INPUT_NAME, output_names: Sequence[str] = ()):
    """Yield (format, bytes) for every format, tracing the model once per batch layout; the
    signature's input is `input_name`, its outputs `output_names` (default: the model's)."""
    exports = {}
    try:
        for fmt in formats:
            batch = 1 if static_batch(fmt) else None
            if batch not in exports:
                exports[batch] = Export(model, model.input_shape[1:], batch, output_names=output_names,
                                        input_name=input_name)
            yield fmt, exports[batch].convert(fmt, calibration)
    finally:
        for e in exports.values():
            e.close()


def model_info(ctx):
    """The run's TFLite Model Metadata: name, the recipe's author lines, normalisation, labels."""
    from .metadata import ModelInfo, parse_labels

    m = ctx.recipe.convert.metadata
    labels = parse_labels(ctx.path("labels.txt").read_text())
    return ModelInfo.from_input_spec(ctx.input_spec, labels, ctx.recipe.task, name=ctx.recipe.name,
                                     description=m.description, version=m.version, author=m.author,
                                     license=m.license)


def gzip_size(data: bytes) -> int:
    """Size after gzip -9: what pruning/clustering actually buy in a download."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def write_artifact(data: bytes, path: Path, fmt: str) -> dict:
    atomic.write_bytes(path, data)
    return {"format": fmt, "size_bytes": len(data), "gzip_bytes": gzip_size(data)}


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
