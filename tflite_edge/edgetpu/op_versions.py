"""Operator versions the Edge TPU compiler can read: it is frozen at 16.0, built against TF 2.5.

A .tflite records a version per operator; the converter raises it when a feature needs a newer
kernel. The compiler's op resolver knows the versions of TF 2.5 only and stops with "Didn't find op
for builtin opcode 'CONV_2D' version '6'" (google-coral/edgetpu#631; TRANSPOSE_CONV v4 #845,
QUANTIZE v3 #879), and on an operator code past TF 2.5's with "Op builtin_code out of range"
(#862). Both stop the whole compilation, whichever op it is.

The versions come from TensorFlow's op-version-to-runtime table,
tensorflow/lite/tools/versioning/runtime_version.cc (FindMinimumRuntimeVersionForOp), for the
operators the compiler maps and the I/O (de)quantize; the feature that raises a version is from
the same folder's op_version.cc where it is one thing.
"""
from __future__ import annotations

from typing import Optional

COMPILER_TF = (2, 5)
# BuiltinOperator codes of TF 2.5's schema end at HASHTABLE_SIZE (139); REDUCE_ALL (140) is 2.6.
LAST_TF25_CODE = 139

# op -> the minimum runtime of version 1, 2, ... (runtime_version.cc)
RUNTIME: dict[str, tuple[str, ...]] = {
    "ADD": ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    "AVERAGE_POOL_2D": ("1.5.0", "1.14.0", "2.3.0"),
    "CONCATENATION": ("1.5.0", "1.14.0", "2.3.0"),
    "CONV_2D": ("1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0"),
    "DEPTHWISE_CONV_2D": ("1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0", "2.11.0"),
    "DEQUANTIZE": ("1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0"),
    "EXPAND_DIMS": ("1.10.0",),
    "FULLY_CONNECTED": ("1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0", "2.3.0", "2.3.0",
                        "2.11.0"),
    "L2_NORMALIZATION": ("1.5.0", "1.14.0"),
    "LOGISTIC": ("1.14.0", "1.14.0", "2.3.0"),
    "LSTM": ("1.7.0", "1.10.0", "1.14.0", "2.3.0"),
    "MAX_POOL_2D": ("1.5.0", "1.14.0", "2.3.0"),
    "MAXIMUM": ("1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    "MEAN": ("1.6.0", "1.14.0", "2.4.0"),
    "MINIMUM": ("1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    "MUL": ("1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0"),
    "PACK": ("1.11.0", "1.14.0", "2.3.0"),
    "PAD": ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    "PRELU": ("1.8.0",),
    "QUANTIZE": ("1.14.0", "1.15.0", "2.7.0"),
    "REDUCE_MAX": ("1.11.0", "1.14.0", "2.5.0"),
    "REDUCE_MIN": ("1.11.0", "1.14.0", "2.5.0"),
    "RELU": ("1.5.0", "2.1.0", "2.5.0"),
    "RELU6": ("1.5.0", "1.14.0", "2.5.0"),
    "RELU_N1_TO_1": ("1.5.0",),
    "RESHAPE": ("1.5.0",),
    "RESIZE_BILINEAR": ("1.7.0", "1.14.0", "2.2.0", "2.5.0"),
    "RESIZE_NEAREST_NEIGHBOR": ("1.13.1", "1.14.0", "2.3.0", "2.4.0"),
    "RSQRT": ("1.10.0", "2.5.0"),
    "SLICE": ("1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0"),
    "SOFTMAX": ("1.5.0", "1.14.0", "2.3.0"),
    "SPACE_TO_DEPTH": ("1.5.0", "1.14.0"),
    "SPLIT": ("1.5.0", "1.14.0", "1.14.0", "2.3.0"),
    "SQUARED_DIFFERENCE": ("1.13.1", "2.5.0"),
    "SQUEEZE": ("1.6.0", "2.5.0"),
    "STRIDED_SLICE": ("1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0"),
    "SUB": ("1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"),
    "SUM": ("1.10.0", "1.15.0"),
    "TANH": ("1.14.0", "1.14.0", "2.3.0"),
    "TRANSPOSE_CONV": ("1.9.0", "2.2.0", "2.3.0", "2.13.0"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("1.13.1", "1.14.0", "2.3.0", "2.12.0"),
}

# (op, version) -> what in the model asks for it (op_version.cc), where that is one feature
FEATURES: dict[tuple[str, int], str] = {
    ("ADD", 4): "int64 tensors",
    ("CONV_2D", 6): "a grouped convolution (Conv2D with groups > 1)",
    ("CONV_2D", 7): "int4 weights",
    ("CONV_2D", 8): "int16 activations with a quantized bias",
    ("DEPTHWISE_CONV_2D", 7): "int4 weights",
    ("DEQUANTIZE", 5): "per-channel int8 dequantization",
    ("FULLY_CONNECTED", 10): "int4 weights",
    ("FULLY_CONNECTED", 11): "int16 activations with a quantized bias",
    ("FULLY_CONNECTED", 12): "per-channel dynamic-range (hybrid) weights",
    ("FULLY_CONNECTED", 13): "int16 activations with int4 weights",
    ("MUL", 5): "int64 tensors",
    ("MUL", 6): "complex64 tensors",
    ("PAD", 4): "an input of more than 4 dimensions",
    ("QUANTIZE", 3): "per-channel quantization of a tensor",
    ("STRIDED_SLICE", 6): "an ellipsis or new-axis mask",
    ("TRANSPOSE_CONV", 4): "a fused activation function (Conv2DTranspose followed by its activation)",
    ("TRANSPOSE_CONV", 5): "int16 activations with a quantized bias",
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", 4): "diagonal recurrent tensors",
}


def _tuple(version: str) -> tuple:
    return tuple(int(p) for p in version.split("."))


def runtime_needed(op: str, version: int) -> Optional[str]:
    """The TFLite runtime version `op` at `version` needs; None when the table does not know it
    (an op outside the table, or a version newer than the table: then beyond TF 2.5 too)."""
    versions = RUNTIME.get(op)
    return versions[version - 1] if versions and 1 <= version <= len(versions) else None


def max_readable(op: str) -> Optional[int]:
    """The highest version of `op` that TF 2.5 (the compiler's resolver) knows; None if unknown."""
    versions = RUNTIME.get(op)
    if not versions:
        return None
    return max(i + 1 for i, v in enumerate(versions) if _tuple(v)[:2] <= COMPILER_TF)


def version_problem(op: str, version: int, code: int) -> Optional[str]:
    """Why the compiler cannot read this operator, or None when it can."""
    if code > LAST_TF25_CODE:
        return (f"{op} (builtin code {code}) is newer than TF 2.5's operator set: the compiler stops with "
                "'Op builtin_code out of range'")
    limit = max_readable(op)
    if limit is None or version <= limit:
        return None
    runtime = runtime_needed(op, version)
    needs = f"TFLite {runtime}" if runtime else "a TFLite runtime newer than those the table lists"
    feature = FEATURES.get((op, version))
    return (f"{op} version {version} needs {needs}; the compiler (TF 2.5) reads up to version {limit} and "
            f"stops with \"Didn't find op for builtin opcode '{op}' version '{version}'\""
            + (f"; raised by {feature}" if feature else ""))
