"""Running a .tflite: the one module for interpreters, inputs and the (de)quantization at the boundary.

numpy and an interpreter only (ai_edge_litert, or tflite_runtime where that is what a board has):
no TensorFlow, so evaluate, predict, cascades and the board worker (bench/host_worker.py) all use it.

>>> interp, delegate = make_interpreter("m.tflite", threads=2)          # doctest: +SKIP
>>> classes = predict_classes(interp, [images], "m.tflite", threads=2)  # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np


def interpreter_module():
    """ai_edge_litert's interpreter (the successor of tflite-runtime); does not import TF."""
    try:
        from ai_edge_litert import interpreter
    except ImportError:  # boards that only have the older runtime
        from tflite_runtime import interpreter  # type: ignore
    return interpreter


def make_interpreter(model_path: str, threads: int = 1):
    """(interpreter, delegate note). XNNPACK first; models it cannot prepare fall back to builtins.

    Sparsity-optimised int8 models fail to prepare under XNNPACK in ai_edge_litert (STACK.md).
    """
    mod = interpreter_module()
    try:
        interp = mod.Interpreter(model_path=model_path, num_threads=threads)
        interp.allocate_tensors()
        return interp, "xnnpack"
    except (RuntimeError, ValueError) as xnn_error:
        try:
            interp = mod.Interpreter(
                model_path=model_path, num_threads=threads,
                experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            interp.allocate_tensors()
        except (RuntimeError, ValueError):
            raise xnn_error from None
        reason = str(xnn_error).strip().splitlines()[0][:120] if str(xnn_error).strip() else "prepare failed"
        return interp, f"builtin (XNNPACK could not prepare the model: {reason})"


def op_names(model_path: str) -> list:
    """The sorted names of the ops in a model (builtin resolver: the graph as converted, no delegate)."""
    mod = interpreter_module()
    it = mod.Interpreter(model_path=str(model_path),
                         experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return sorted({op["op_name"] for op in it._get_ops_details()})


def signature_outputs(interp, signature: str = "serving_default") -> dict:
    """{output name: tensor index} of a signature (no public call maps the names to indices)."""
    return interp._get_full_signature_list()[signature]["outputs"]


def random_inputs(interp, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for d in interp.get_input_details():
        dtype = d["dtype"]
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max, size=d["shape"], endpoint=True).astype(dtype))
        else:
            out.append(rng.standard_normal(d["shape"]).astype(dtype))
    return out


def quantize_input(x: np.ndarray, detail) -> np.ndarray:
    """Float input -> the tensor's dtype, with its quantization parameters for integer inputs."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def dequantize(x: np.ndarray, detail) -> np.ndarray:
    """An output tensor as float32, with its quantization parameters for integer outputs (an integer
    tensor without parameters, scale 0, is taken as it is)."""
    scale, zero = detail["quantization"]
    if np.issubdtype(x.dtype, np.integer) and scale:
        return ((x.astype(np.float32) - zero) * scale).astype(np.float32)
    return np.asarray(x, dtype=np.float32)


def predict_scores(interp, batches, model_path: str, threads: int) -> np.ndarray:
    """The first output (dequantized to float) for every image in `batches` (preprocessed float
    arrays), whole batches at a time where the model allows resizing its batch, one image at a
    time otherwise (static batch 1)."""
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scores, size = [], None
    for batch in batches:
        n = len(batch)
        if size != n and size != 1:
            try:
                interp.resize_tensor_input(inp["index"], [n, *inp["shape"][1:]])
                interp.allocate_tensors()
                size = n
            except (RuntimeError, ValueError):
                interp, _ = make_interpreter(model_path, threads)
                size = 1
        for chunk in ([batch] if size == n else [b[None] for b in batch]):
            interp.set_tensor(inp["index"], quantize_input(chunk, inp))
            interp.invoke()
            y = dequantize(interp.get_tensor(out["index"]), out)
            scores.append(y.reshape(len(chunk), -1))
    return np.concatenate(scores) if scores else np.zeros((0, 0), np.float32)


def predict_classes(interp, batches, model_path: str, threads: int) -> np.ndarray:
    """Argmax class of every image in `batches` (`predict_scores`)."""
    scores = predict_scores(interp, batches, model_path, threads)
    return np.argmax(scores, axis=-1).reshape(-1) if len(scores) else np.zeros(0, np.int64)
