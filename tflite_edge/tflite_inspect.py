"""Sparsity and distinct-value counts of the weight tensors inside a .tflite file.

Reads the flatbuffer with ai_edge_litert's generated schema bindings (no TensorFlow import), so a
report can prove that pruning and clustering survived conversion: the zeros and the few distinct
values must be there in the bytes that ship, not only in the Keras model.

>>> info = inspect_tflite("model.tflite")                      # doctest: +SKIP
>>> info["summary"]["sparsity"], info["summary"]["unique_values_per_channel_max"]  # doctest: +SKIP
(0.75, 17)
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from .errors import UserInputError

# op name -> index of its weight input
WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1,
              "CONV_3D": 1}
# channel axis of the weight tensor when it carries no quantized dimension (float models)
_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0,
                 "CONV_3D": 4}
_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8, "UINT8": np.uint8,
           "INT16": np.int16, "INT32": np.int32, "FLOAT64": np.float64}


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _names(enum_cls) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _opname(code, names) -> str:
    # builtinCode is the extended field; deprecatedBuiltinCode holds codes below 127 in old files.
    value = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
    return names.get(value, str(value))


def _tensor_values(model, tensor, buf: bytes, type_names) -> Optional[np.ndarray]:
    dtype = _DTYPES.get(type_names.get(tensor.type, ""))
    if dtype is None:
        return None
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return None
    if buffer.data is not None and len(buffer.data):
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
    elif buffer.offset and buffer.size:  # large models keep buffers after the flatbuffer
        raw = buf[buffer.offset:buffer.offset + buffer.size]
    else:
        return None
    shape = [int(s) for s in (tensor.shape if tensor.shape is not None else [])]
    values = np.frombuffer(raw, dtype=dtype)
    return values.reshape(shape) if shape and int(np.prod(shape)) == values.size else values


def inspect_tflite(path: Union[str, Path, bytes]) -> dict:
    """Per weight tensor (inputs of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED...): sparsity and
    distinct values, per tensor and per output channel; plus a weighted summary.

    Zero means the stored zero: 0 for float weights, the zero point for quantized ones (int8
    weights are symmetric, zero point 0). Tensors stored in TFLite's sparse encoding (converter
    option EXPERIMENTAL_SPARSITY) are reported with `encoded_sparse: true` and not counted.
    """
    buf = bytes(path) if isinstance(path, (bytes, bytearray)) else Path(path).read_bytes()
    s = _schema()
    try:
        model = s.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as e:  # the flatbuffer reader raises assorted errors on a bad file
        raise UserInputError(f"{path if not isinstance(path, bytes) else '<bytes>'}: not a TFLite "
                             f"flatbuffer ({type(e).__name__})") from None
    op_names, type_names = _names(s.BuiltinOperator), _names(s.TensorType)
    tensors_out: List[dict] = []
    seen = set()
    for sg_index, sg in enumerate(model.subgraphs or []):
        producers = {}
        for op in sg.operators or []:
            for o in (op.outputs if op.outputs is not None else []):
                producers[int(o)] = op
        for op in sg.operators or []:
            name = _opname(model.operatorCodes[op.opcodeIndex], op_names)
            if name not in WEIGHT_OPS or op.inputs is None or len(op.inputs) <= WEIGHT_OPS[name]:
                continue
            t_index = int(op.inputs[WEIGHT_OPS[name]])
            # float16 models feed weights through DEQUANTIZE.             # A QAT graph converted to float32 feeds them through QUANTIZE -> DEQUANTIZE: follow both.
            prod = producers.get(t_index)
            while prod is not None and _opname(model.operatorCodes[prod.opcodeIndex], op_names) in (
                    "DEQUANTIZE", "QUANTIZE"):
                t_index = int(prod.inputs[0])
                prod = producers.get(t_index)
            if (sg_index, t_index) in seen:
                continue
            seen.add((sg_index, t_index))
            tensor = sg.tensors[t_index]
            entry = {"op": name, "tensor": tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name),
                     "dtype": type_names.get(tensor.type, str(tensor.type)).lower()}
            if tensor.sparsity is not None:
                tensors_out.append({**entry, "encoded_sparse": True})
                continue
            values = _tensor_values(model, tensor, buf, type_names)
            if values is None:
                continue  # computed at run time (not a constant)
            q = tensor.quantization
            zero = 0
            axis = _CHANNEL_AXIS[name]
            if q is not None and q.zeroPoint is not None and len(q.zeroPoint) == 1:
                zero = int(q.zeroPoint[0])
            if q is not None and q.scale is not None and len(q.scale) > 1:
                axis = int(q.quantizedDimension)
            axis = axis if values.ndim > axis else values.ndim - 1
            zeros = values == zero
            per_channel = [len(np.unique(np.take(values, i, axis=axis))) for i in range(values.shape[axis])] \
                if values.ndim else [1]
            entry.update({"shape": list(values.shape), "count": int(values.size),
                          "zeros": int(zeros.sum()), "sparsity": float(zeros.mean()) if values.size else 0.0,
                          "unique_values": int(len(np.unique(values))),
                          "unique_values_per_channel_max": int(max(per_channel))})
            tensors_out.append(entry)
    counted = [t for t in tensors_out if "count" in t]
    total = sum(t["count"] for t in counted)
    summary = {
        "weight_tensors": len(counted),
        "weights": int(total),
        "sparsity": float(sum(t["zeros"] for t in counted) / total) if total else 0.0,
        "unique_values_max": max((t["unique_values"] for t in counted), default=0),
        "unique_values_per_channel_max": max((t["unique_values_per_channel_max"] for t in counted), default=0),
        "encoded_sparse_tensors": sum(1 for t in tensors_out if t.get("encoded_sparse")),
    }
    return {"tensors": tensors_out, "summary": summary}


def summarize(path, op_types=("CONV_2D", "FULLY_CONNECTED")) -> dict:
    """Sparsity and distinct-value counts over the tensors of `op_types` only (default: the
    layers that clustering touches; tfmot does not cluster DepthwiseConv2D)."""
    info = inspect_tflite(path)
    sel = [t for t in info["tensors"] if t["op"] in op_types and "count" in t]
    total = sum(t["count"] for t in sel)
    return {
        "weights": int(total),
        "sparsity": float(sum(t["zeros"] for t in sel) / total) if total else 0.0,
        "unique_values_per_channel_max": max((t["unique_values_per_channel_max"] for t in sel), default=0),
        "unique_values_max": max((t["unique_values"] for t in sel), default=0),
        "all_weights_sparsity": info["summary"]["sparsity"],
    }
