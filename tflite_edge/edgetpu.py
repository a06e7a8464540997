"""Edge TPU: predict what `edgetpu_compiler` will map, run it when installed, parse its log.

The compiler only runs on x86-64 Linux and explains failures tersely, so `check_model` applies
Coral's documented requirements (https://coral.ai/docs/edgetpu/models-intro/) on any host, reading
the .tflite through the flatbuffer schema bindings that ai_edge_litert ships. Statuses use the
compiler's own vocabulary so a prediction and a real `-s` log read the same.

    >>> report = check_model(Path("model_int8.tflite"))          # doctest: +SKIP
    >>> report["verdict"], report["on_tpu"], report["on_cpu"]    # doctest: +SKIP
    ('all_on_tpu', 6, 0)
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .errors import DeviceUnavailable, EdgeError, UserInputError

DOCS_URL = "https://coral.ai/docs/edgetpu/models-intro/"

# The compiler's status strings, verbatim from `edgetpu_compiler -s` logs.
MAPPED = "Mapped to Edge TPU"
PARTITIONED = "More than one subgraph is not supported"
UNSPECIFIED = "Operation is otherwise supported, but not mapped due to some unspecified limitation"
NOT_SUPPORTED = "Operation not supported"
BAD_DTYPE = "Operation is working on an unsupported data type"
BAD_RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
NOT_CONSTANT = "Filter, bias, or other param is not constant at compile-time"
# Not an op status: the compiler aborts the whole model with this line.
DYNAMIC = ("Attempting to use a delegate that only supports static-sized tensors "
           "with a graph that has dynamic-sized tensors.")

# Coral's supported-operation table (TFLite builtin names), with its documented limitations.
SUPPORTED_OPS: dict[str, str] = {
    "ADD": "", "SUB": "", "MUL": "", "MAXIMUM": "", "MINIMUM": "",
    "AVERAGE_POOL_2D": "No fused activation function.",
    "MAX_POOL_2D": "No fused activation function.",
    "CONCATENATION": ("No fused activation function. If any input is a compile-time constant "
                      "tensor, there must be only 2 inputs, and this constant tensor must be all "
                      "zeroes (effectively, a zero-padding op)."),
    "CONV_2D": "Must use the same dilation in x and y dimensions.",
    "DEPTHWISE_CONV_2D": "Must use the same dilation in x and y dimensions.",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": ("Only the default format is supported for fully-connected weights. "
                        "Output tensor is one-dimensional."),
    "L2_NORMALIZATION": "", "LOGISTIC": "", "TANH": "",
    "RELU": "", "RELU6": "", "RELU_N1_TO_1": "",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "Unidirectional LSTM only.",
    "LSTM": "Unidirectional LSTM only.",
    "MEAN": "No reduction in batch dimension.",
    "SUM": "Cannot operate on the batch dimension.",
    "REDUCE_MAX": "Cannot operate on the batch dimension.",
    "REDUCE_MIN": "Cannot operate on the batch dimension.",
    "PACK": "No packing in batch dimension.",
    "PAD": "No padding in batch dimension.",
    "PRELU": ("Alpha must be 1-dimensional (only the innermost dimension can be >1 size). With "
              "Keras PReLU on 4D input, shared_axes must be [1,2]."),
    "QUANTIZE": "",
    "RESHAPE": "Certain reshapes might not be mapped for large tensor sizes.",
    "RESIZE_BILINEAR": ("Input/output is a 3-dimensional tensor. Depending on input/output size, "
                        "this operation may not be mapped to avoid loss in precision."),
    "RESIZE_NEAREST_NEIGHBOR": ("Input/output is a 3-dimensional tensor. Depending on "
                                "input/output size, this operation may not be mapped to avoid "
                                "loss in precision."),
    "RSQRT": "", "SQUARED_DIFFERENCE": "", "SLICE": "",
    "SOFTMAX": "Supports only 1-D input tensor with a max of 16,000 elements.",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "No splitting in batch dimension.",
    "SQUEEZE": "Supported only when the squeezed dimensions are leading 1s (no relayout needed).",
    "STRIDED_SLICE": ("Supported only when all strides are equal to 1, and with "
                      "ellipsis-axis-mask == 0, and new-axis-mask == 0."),
    "TRANSPOSE_CONV": "",
}

# Inputs that must be compile-time constants (weights, biases, axes, paddings).
_PARAM_INPUTS: dict[str, tuple[int, ...]] = {
    "CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
    "TRANSPOSE_CONV": (0, 1, 3), "PRELU": (1,), "PAD": (1,), "MEAN": (1,), "SUM": (1,),
    "REDUCE_MAX": (1,), "REDUCE_MIN": (1,), "STRIDED_SLICE": (1, 2, 3), "SLICE": (1, 2),
    "RESIZE_BILINEAR": (1,), "RESIZE_NEAREST_NEIGHBOR": (1,), "SPLIT": (0,),
}
_WEIGHT_INPUT = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}

# What to change in Keras for ops the Edge TPU lacks; the rest get the generic advice.
_OP_FIXES = {
    "LEAKY_RELU": "use ReLU, or PReLU(shared_axes=[1, 2]) which the Edge TPU runs",
    "HARD_SWISH": "use ReLU6 (as MobileNet EdgeTPU does) instead of hard-swish",
    "GELU": "use ReLU instead of GELU",
    "ELU": "use ReLU instead of ELU",
    "TRANSPOSE": "keep data in NHWC and drop the Permute/transpose",
    "BATCH_MATMUL": "use a Dense layer with constant weights instead of a matmul of two activations",
    "DEQUANTIZE": "convert with inference_input_type/inference_output_type = tf.uint8 or tf.int8",
}


# --------------------------------------------------------------------------------------------
# Reading the flatbuffer
# --------------------------------------------------------------------------------------------

def _schema():
    # ai_edge_litert ships the generated bindings; importing them does not start TensorFlow.
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def load_flatbuffer(path: Path):
    """The model as the schema's object API (`ModelT`); user errors become UserInputError."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: file not found; pass the path of a .tflite model")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserInputError(f"{path}: not a TensorFlow Lite model (no TFL3 identifier); pass a "
                             ".tflite written by the TFLite converter (`tflite-edge convert`)")
    s = _schema()
    try:
        model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
        _validate_indices(model)
    except Exception as e:  # any decoding failure of a damaged buffer, whatever its type
        raise UserInputError(f"{path}: truncated or corrupt .tflite ({type(e).__name__}); "
                             "re-export it with the TFLite converter") from None
    return model


def _validate_indices(model) -> None:
    if not model.subgraphs:
        raise ValueError("no subgraphs")
    n_buffers, n_codes = len(model.buffers or []), len(model.operatorCodes or [])
    for sg in model.subgraphs:
        n_tensors = len(sg.tensors or [])
        for t in sg.tensors or []:
            if not 0 <= t.buffer < max(n_buffers, 1):
                raise ValueError("tensor buffer index out of range")
        for op in sg.operators or []:
            if not 0 <= op.opcodeIndex < n_codes:
                raise ValueError("opcode index out of range")
            if not _ints(op.outputs):
                raise ValueError("operator without outputs")
            for i in list(_ints(op.inputs)) + list(_ints(op.outputs)):
                if not -1 <= i < n_tensors:
                    raise ValueError("tensor index out of range")


def _ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


class _Graph:
    """Subgraph 0 with the lookups the rules need."""

    def __init__(self, model, path: Path):
        s = _schema()
        self.model, self.path = model, path
        self.sg = model.subgraphs[0]
        self.op_names = _enum_names(s.BuiltinOperator)
        self.type_names = _enum_names(s.TensorType)
        self.inputs = set(_ints(self.sg.inputs))
        self.outputs = _ints(self.sg.outputs)
        self.producer = {t: i for i, op in enumerate(self.sg.operators or []) for t in _ints(op.outputs)}

    def op_name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        # Codes above 127 live only in builtin_code; older files only fill the deprecated byte.
        number = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
        name = self.op_names.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM" and code.customCode:
            return code.customCode.decode(errors="replace")
        return name

    def tensor(self, index: int):
        return self.sg.tensors[index]

    def name(self, index: int) -> str:
        raw = self.tensor(index).name
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")

    def dtype(self, index: int) -> str:
        return self.type_names.get(int(self.tensor(index).type), "UNKNOWN")

    def shape(self, index: int) -> list[int]:
        t = self.tensor(index)
        sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
        return _ints(sig)

    def is_constant(self, index: int) -> bool:
        t = self.tensor(index)
        buf = self.model.buffers[t.buffer] if t.buffer else None
        return buf is not None and ((buf.data is not None and len(buf.data) > 0) or bool(buf.offset))

    def const_values(self, index: int) -> list[int]:
        import numpy as np

        t, dtype = self.tensor(index), self.dtype(index)
        raw = self.model.buffers[t.buffer].data
        np_type = {"INT32": np.int32, "INT64": np.int64, "INT8": np.int8, "UINT8": np.uint8}.get(dtype)
        if raw is None or np_type is None:
            return []
        data = bytes(np.asarray(raw, np.uint8))
        if len(data) % np.dtype(np_type).itemsize:
            raise UserInputError(f"{self.path}: constant '{self.name(index)}' holds {len(data)} bytes, "
                                 f"not whole {dtype} values: the file is corrupt; re-export it")
        return [int(v) for v in np.frombuffer(data, np_type)]


# --------------------------------------------------------------------------------------------
# The rules, one small function each. Each returns None or (status, rule, reason).
# --------------------------------------------------------------------------------------------

_EIGHT_BIT = {"INT8", "UINT8"}


def _activations(g: _Graph, op) -> list[int]:
    return [i for i in _ints(op.inputs) + _ints(op.outputs) if i >= 0 and not g.is_constant(i)]


def _is_boundary(g: _Graph, name: str, op) -> bool:
    """Float QUANTIZE at a model input / DEQUANTIZE at an output: on the CPU, but they cut nothing."""
    ins, outs = [i for i in _ints(op.inputs) if i >= 0], _ints(op.outputs)
    if name == "QUANTIZE":
        return bool(ins) and ins[0] in g.inputs and g.dtype(ins[0]) not in _EIGHT_BIT
    if name == "DEQUANTIZE":
        return bool(outs) and outs[0] in g.outputs and g.dtype(outs[0]) not in _EIGHT_BIT
    return False


def _rule_dynamic(g, name, op):
    dynamic = [i for i in _activations(g, op) if any(d < 0 for d in g.shape(i))]
    if dynamic:
        return DYNAMIC, "dynamic_shape", (f"tensor '{g.name(dynamic[0])}' has a dynamic shape "
                                          f"{g.shape(dynamic[0])}; the Edge TPU needs static shapes")
    return None


def _rule_float_io(g, name, op):
    if _is_boundary(g, name, op):
        return BAD_DTYPE, "float_io", (f"{name} converts the model's float "
                                       f"{'input' if name == 'QUANTIZE' else 'output'} on the CPU")
    return None


def _rule_dtype(g, name, op):
    for i in _activations(g, op):
        if g.dtype(i) not in _EIGHT_BIT:
            return BAD_DTYPE, "unsupported_dtype", (f"tensor '{g.name(i)}' is {g.dtype(i)}; "
                                                    "the Edge TPU runs only 8-bit tensors")
    weight = _WEIGHT_INPUT.get(name)
    ins = _ints(op.inputs)
    if weight is not None and weight < len(ins) and ins[weight] >= 0 and g.is_constant(ins[weight]):
        if g.dtype(ins[weight]) not in _EIGHT_BIT:
            return BAD_DTYPE, "unsupported_dtype", (f"weights '{g.name(ins[weight])}' are "
                                                    f"{g.dtype(ins[weight])}, not 8-bit")
    return None


def _rule_rank(g, name, op):
    for i in _activations(g, op):
        shape = g.shape(i)
        if len(shape) > 3 and any(d != 1 for d in shape[:-3]):
            return BAD_RANK, "tensor_rank", (f"tensor '{g.name(i)}' has shape {shape}: only the 3 "
                                             "innermost dimensions may be larger than 1 (batch 1)")
    return None


def _rule_supported(g, name, op):
    if name not in SUPPORTED_OPS:
        return NOT_SUPPORTED, "unsupported_op", f"{name} is not in the Edge TPU operation table"
    return None


def _rule_constant_params(g, name, op):
    ins = _ints(op.inputs)
    for pos in _PARAM_INPUTS.get(name, ()):
        if pos < len(ins) and ins[pos] >= 0 and not g.is_constant(ins[pos]):
            return NOT_CONSTANT, "non_constant_param", (f"input {pos} ('{g.name(ins[pos])}') of "
                                                        f"{name} is computed at run time")
    return None


def _options(op):
    return op.builtinOptions


def _constraint(reason: str):
    return UNSPECIFIED, "op_constraint", reason


def _fused_activation(op) -> int:
    return int(getattr(_options(op), "fusedActivationFunction", 0) or 0)


def _non_unit(shape: list[int]) -> list[int]:
    return [d for d in shape if d != 1]


def _axis_values(g, op, pos: int = 1) -> list[int]:
    ins = _ints(op.inputs)
    return g.const_values(ins[pos]) if pos < len(ins) and ins[pos] >= 0 else []


def _touches_batch(axes: list[int], rank: int) -> bool:
    # Axis 0 is the batch of any tensor of rank 2 or more in a Keras-built graph.
    return rank >= 2 and any(a % rank == 0 for a in axes)


def _rule_constraints(g, name, op):
    check = _CONSTRAINTS.get(name)
    if check is None:
        return None
    try:
        return check(g, op)
    except IndexError:
        # Every documented builtin has these inputs; only a damaged file lacks them.
        raise UserInputError(f"{g.path}: {name} (op {g.sg.operators.index(op)}) lacks inputs its "
                             "schema requires: the file is corrupt; re-export it") from None


def _c_no_fused(g, op):
    if _fused_activation(op):
        return _constraint("the Edge TPU does not run this op with a fused activation function")
    return None


def _c_concat(g, op):
    if _fused_activation(op):
        return _constraint("CONCATENATION has a fused activation function")
    ins = [i for i in _ints(op.inputs) if i >= 0]
    consts = [i for i in ins if g.is_constant(i)]
    if consts and (len(ins) != 2 or any(v != 0 for v in g.const_values(consts[0]))):
        return _constraint(f"CONCATENATION joins constant tensor '{g.name(consts[0])}' that is not "
                           "all zeros (only a 2-input zero-padding concat is allowed)")
    return None


def _c_dilation(g, op):
    o = _options(op)
    h, w = int(getattr(o, "dilationHFactor", 1) or 1), int(getattr(o, "dilationWFactor", 1) or 1)
    if h != w:
        return _constraint(f"dilation differs between y ({h}) and x ({w})")
    return None


def _c_fully_connected(g, op):
    if int(getattr(_options(op), "weightsFormat", 0) or 0) != 0:
        return _constraint("FULLY_CONNECTED weights are not in the default format")
    out = _ints(op.outputs)[0]
    if len(_non_unit(g.shape(out))) > 1:
        return _constraint(f"FULLY_CONNECTED output {g.shape(out)} is not one-dimensional "
                           "(a Dense layer applied to a 3D/4D tensor)")
    return None


def _c_reduce(g, op):
    rank = len(g.shape(_ints(op.inputs)[0]))
    if _touches_batch(_axis_values(g, op), rank):
        return _constraint("reduces over the batch dimension")
    return None


def _c_pad(g, op):
    paddings = _axis_values(g, op)
    if len(paddings) >= 2 and (paddings[0] or paddings[1]):
        return _constraint(f"pads the batch dimension ({paddings[:2]})")
    return None


def _c_axis_option(g, op):
    rank = len(g.shape(_ints(op.outputs)[0]))
    axis = int(getattr(_options(op), "axis", 0) or 0)
    if rank >= 2 and axis % rank == 0:
        return _constraint("works along the batch dimension")
    return None


def _c_split(g, op):
    ins = _ints(op.inputs)
    rank = len(g.shape(ins[1])) if len(ins) > 1 else 0
    if _touches_batch(_axis_values(g, op, 0), rank):
        return _constraint("splits along the batch dimension")
    return None


def _c_softmax(g, op):
    shape = g.shape(_ints(op.inputs)[0])
    elements = 1
    for d in shape:
        elements *= max(d, 1)
    if len(_non_unit(shape)) > 1 or elements > 16000:
        return _constraint(f"SOFTMAX input {shape} is not a 1-D tensor of at most 16,000 elements")
    return None


def _c_prelu(g, op):
    ins = _ints(op.inputs)
    if len(ins) > 1 and ins[1] >= 0 and len(_non_unit(g.shape(ins[1])[:-1])) > 0:
        return _constraint(f"PRELU alpha has shape {g.shape(ins[1])}; only its innermost "
                           "dimension may be larger than 1")
    return None


def _c_strided_slice(g, op):
    o = _options(op)
    strides = _axis_values(g, op, 3)
    if any(s != 1 for s in strides):
        return _constraint(f"STRIDED_SLICE strides are {strides}, not all 1")
    if int(getattr(o, "ellipsisMask", 0) or 0) or int(getattr(o, "newAxisMask", 0) or 0):
        return _constraint("STRIDED_SLICE uses an ellipsis or new-axis mask")
    return None


def _c_squeeze(g, op):
    shape = g.shape(_ints(op.inputs)[0])
    dims = _ints(getattr(_options(op), "squeezeDims", None)) or [i for i, d in enumerate(shape) if d == 1]
    first_big = next((i for i, d in enumerate(shape) if d != 1), len(shape))
    if any(d % max(len(shape), 1) > first_big for d in dims):
        return _constraint(f"SQUEEZE of {shape} removes dimensions after a non-unit one (relayout)")
    return None


_CONSTRAINTS = {
    "AVERAGE_POOL_2D": _c_no_fused, "MAX_POOL_2D": _c_no_fused, "CONCATENATION": _c_concat,
    "CONV_2D": _c_dilation, "DEPTHWISE_CONV_2D": _c_dilation,
    "FULLY_CONNECTED": _c_fully_connected,
    "MEAN": _c_reduce, "SUM": _c_reduce, "REDUCE_MAX": _c_reduce, "REDUCE_MIN": _c_reduce,
    "PAD": _c_pad, "PACK": _c_axis_option, "SPLIT": _c_split, "SOFTMAX": _c_softmax,
    "PRELU": _c_prelu, "STRIDED_SLICE": _c_strided_slice, "SQUEEZE": _c_squeeze,
}

# The compiler reports the first blocking reason; this is the order it appears to apply them.
_RULES = (_rule_dynamic, _rule_float_io, _rule_dtype, _rule_rank, _rule_supported, _rule_constant_params,
          _rule_constraints)


def _own_failure(g: _Graph, name: str, op):
    for rule in _RULES:
        found = rule(g, name, op)
        if found:
            return found
    return None


# --------------------------------------------------------------------------------------------
# Keras layer attribution
# --------------------------------------------------------------------------------------------

_NOT_LAYERS = re.compile(r"^(tfl\.|arith\.|serving_default|StatefulPartitionedCall|PartitionedCall)")


def _name_paths(name: str) -> list[list[str]]:
    # Fused tensors carry every source op: "m/conv1/Relu;m/conv1/BiasAdd;m/conv1/Conv2D".
    # The converter lists fused activations first and the op itself last, so read right to left.
    parts = reversed(name.split(";"))
    return [part.split("/") for part in parts if part and not _NOT_LAYERS.match(part)]


def _layer_from_names(names: list[str], keras_layers: set[str] | None) -> str | None:
    for name in names:
        for path in _name_paths(name):
            if keras_layers:
                matches = [c for c in path if c in keras_layers]
                if matches:
                    return matches[-1]  # deepest: nested models are layers too
            elif len(path) >= 3:
                return path[1]  # "<model>/<layer>/<tf op>"
    return None


def _op_layer(g: _Graph, op, keras_layers: set[str] | None, output_layers: list[str]) -> str | None:
    outs = _ints(op.outputs)
    consts = [i for i in _ints(op.inputs) if i >= 0 and g.is_constant(i)]
    layer = _layer_from_names([g.name(i) for i in outs + consts], keras_layers)
    if layer:
        return layer
    # The converter renames graph outputs (StatefulPartitionedCall:0); the Keras model knows them.
    for i in outs:
        position = _output_position(g, i)
        if position is not None and position < len(output_layers):
            return output_layers[position]
    return None


def _output_position(g: _Graph, tensor: int) -> int | None:
    """Which model output a tensor is, looking through the I/O (de)quantize the converter adds."""
    if tensor in g.outputs:
        return g.outputs.index(tensor)
    for op in g.sg.operators or []:
        if tensor in _ints(op.inputs) and g.op_name(op) in ("QUANTIZE", "DEQUANTIZE"):
            out = _ints(op.outputs)[0]
            if out in g.outputs:
                return g.outputs.index(out)
    return None


def load_keras_layers(keras_model_path: Path) -> tuple[set[str], list[str]]:
    """(all layer names, including nested models; the layer behind each model output)."""
    path = Path(keras_model_path)
    if not path.exists():
        raise UserInputError(f"{path}: Keras model not found; pass a .keras, .h5 or SavedModel dir")
    from . import compat

    keras = compat.keras()
    try:
        model = keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as e:  # loading reports bad files through many exception types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise UserInputError(f"{path}: cannot load the Keras model ({first}); pass the model that "
                             "was converted, saved with model.save()") from None
    names: set[str] = set()
    _collect_layer_names(model, names)
    outputs = [t._keras_history.layer.name for t in model.outputs if hasattr(t, "_keras_history")]
    return names, outputs


def _collect_layer_names(model, names: set[str]) -> None:
    for layer in getattr(model, "layers", []):
        names.add(layer.name)
        _collect_layer_names(layer, names)


# --------------------------------------------------------------------------------------------
# Fixes
# --------------------------------------------------------------------------------------------

def _fix(rule: str, name: str, layer: str | None) -> str:
    where = f"Keras layer '{layer}'" if layer else f"the layer that produces {name}"
    if rule == "dynamic_shape":
        return ("build the model with a fixed batch: keras.Input(shape, batch_size=1), and no "
                "None dimensions; reconvert")
    if rule == "unsupported_dtype":
        return ("convert with full-integer quantization: optimizations=[tf.lite.Optimize.DEFAULT], "
                "a representative_dataset, supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], "
                "inference_input_type/inference_output_type = tf.uint8 or tf.int8 (not float, "
                "dynamic-range or 16x8)")
    if rule == "float_io":
        return ("convert with inference_input_type and inference_output_type = tf.uint8 (or "
                "tf.int8) so the model's I/O is 8-bit; otherwise this op runs on the CPU each call")
    if rule == "tensor_rank":
        return (f"in {where}, keep tensors to at most 3 non-unit innermost dimensions with batch 1 "
                "(e.g. reshape 5-D to 4-D, fold extra axes into channels)")
    if rule == "unsupported_op":
        hint = _OP_FIXES.get(name, "replace it with operations from the Edge TPU table, or move it "
                                   "to the end of the model so only it runs on the CPU")
        return f"{where}: {hint} ({DOCS_URL}#supported-operations)"
    if rule == "non_constant_param":
        return (f"{where} computes its weights at run time; use a Dense/Conv2D layer whose "
                "weights are variables, so they become constants in the .tflite")
    if rule == "op_constraint":
        return f"change {where} to meet the documented limitation: {SUPPORTED_OPS.get(name, '')}"
    if rule == "partition":
        return ("fix the first blocking operation above; everything that depends on it runs on the "
                "CPU (or compile with `-n` segments / `-i` intermediate tensors)")
    return ""


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------

def check_model(path: Path, keras_model_path: Path | None = None) -> dict:
    """Predict the Edge TPU compiler's mapping of a .tflite, op by op, with reasons and fixes.

        >>> check_model(Path("m.tflite"))["ops"][0]["status"]     # doctest: +SKIP
        'Mapped to Edge TPU'
    """
    path = Path(path)
    model = load_flatbuffer(path)
    g = _Graph(model, path)
    keras_layers, output_layers = (load_keras_layers(keras_model_path) if keras_model_path
                                   else (None, []))
    ops = _classify_ops(g, keras_layers, output_layers)
    findings = _findings(ops)
    extra_subgraphs = len(model.subgraphs) - 1
    if extra_subgraphs:
        findings.append({"rule": "control_flow", "status": NOT_SUPPORTED, "op": None, "layer": None,
                         "ops": [], "reason": f"the model has {extra_subgraphs} extra subgraph(s) "
                         "(tf.cond/tf.while_loop); they run on the CPU",
                         "fix": "remove control flow from the model body"})
    on_tpu = sum(1 for o in ops if o["status"] == MAPPED)
    report = {
        "model": str(path), "ops": ops, "on_tpu": on_tpu, "on_cpu": len(ops) - on_tpu,
        "fully_quantized": _fully_quantized(g),
        "findings": findings,
    }
    report["verdict"], report["summary"] = _verdict(report)
    return report


def _classify_ops(g: _Graph, keras_layers, output_layers) -> list[dict]:
    cpu_tensors: set[int] = set()
    ops = []
    for index, op in enumerate(g.sg.operators or []):
        name = g.op_name(op)
        layer = _op_layer(g, op, keras_layers, output_layers)
        failure = _own_failure(g, name, op)
        status, rule, reason = failure or (MAPPED, None, "")
        # One partition: an op fed (directly or not) by a CPU op cannot go back to the TPU.
        if status == MAPPED and any(i in cpu_tensors for i in _ints(op.inputs)):
            status, rule, reason = PARTITIONED, "partition", "runs after an operation on the CPU"
        if status != MAPPED and not _is_boundary(g, name, op):
            cpu_tensors.update(_ints(op.outputs))
        ops.append({"index": index, "op": name, "status": status, "rule": rule, "reason": reason,
                    "layer": layer, "fix": _fix(rule, name, layer) if rule else ""})
    return ops


def _findings(ops: list[dict]) -> list[dict]:
    grouped: dict[tuple, dict] = {}
    for o in ops:
        if o["rule"] in (None, "partition"):
            continue
        key = (o["rule"], o["op"], o["layer"])
        if key not in grouped:
            grouped[key] = {"rule": o["rule"], "status": o["status"], "op": o["op"],
                            "layer": o["layer"], "ops": [], "reason": o["reason"], "fix": o["fix"]}
        grouped[key]["ops"].append(o["index"])
    findings = list(grouped.values())
    pushed = [o["index"] for o in ops if o["rule"] == "partition"]
    if pushed:
        first = next(o for o in ops if o["rule"] not in (None, "partition"))
        findings.append({"rule": "partition", "status": PARTITIONED, "op": first["op"],
                         "layer": first["layer"], "ops": pushed,
                         "reason": (f"{len(pushed)} supported operation(s) run on the CPU because "
                                    f"they come after {first['op']} (op {first['index']}): the "
                                    "compiler makes one Edge TPU partition"),
                         "fix": _fix("partition", first["op"], first["layer"])})
    return findings


def _fully_quantized(g: _Graph) -> bool:
    for op in g.sg.operators or []:
        name = g.op_name(op)
        if _is_boundary(g, name, op):
            continue
        if _rule_dtype(g, name, op):
            return False
    return True


def _verdict(report: dict) -> tuple[str, str]:
    rules = {f["rule"] for f in report["findings"]}
    total, on_tpu = len(report["ops"]), report["on_tpu"]
    if "dynamic_shape" in rules:
        return "not_compilable", ("the compiler will stop: the model has dynamic-sized tensors; "
                                  "fix the batch dimension to 1")
    if not report["fully_quantized"] and on_tpu == 0:
        return "not_compilable", ("the compiler will answer 'Model not quantized': convert with "
                                  "full-integer (int8) quantization")
    if total and on_tpu == total:
        return "all_on_tpu", f"all {total} operations will run on the Edge TPU"
    if on_tpu == 0:
        return "all_on_cpu", f"none of the {total} operations will run on the Edge TPU"
    return "partial", f"{on_tpu} of {total} operations on the Edge TPU, {total - on_tpu} on the CPU"


# --------------------------------------------------------------------------------------------
# The compiler
# --------------------------------------------------------------------------------------------

def find_compiler() -> Path | None:
    """The `edgetpu_compiler` on PATH, or None (it exists only for x86-64 Linux)."""
    found = shutil.which("edgetpu_compiler")
    return Path(found) if found else None


def compiler_command(tflite_path: Path, out_dir: Path, *, num_segments: int | None = None,
                     intermediate_tensors: list[str] | None = None, search_delegate: bool = False,
                     delegate_search_step: int | None = None, compiler: Path | str = "edgetpu_compiler"
                     ) -> list[str]:
    """The argv for one compilation; refuses option combinations the compiler rejects."""
    cmd = [str(compiler), "-s", "-o", str(out_dir)]
    if num_segments is not None:
        if int(num_segments) < 1:
            raise UserInputError(f"num_segments={num_segments}: must be 1 or more")
        cmd += ["-n", str(int(num_segments))]
    if intermediate_tensors:
        cmd += ["-i", ",".join(intermediate_tensors)]
    if delegate_search_step is not None and not search_delegate:
        raise UserInputError("delegate_search_step needs search_delegate (-k only works with -d)")
    if search_delegate:
        cmd.append("-d")
        if delegate_search_step is not None:
            if int(delegate_search_step) < 1:
                raise UserInputError(f"delegate_search_step={delegate_search_step}: must be 1 or more")
            cmd += ["-k", str(int(delegate_search_step))]
    cmd.append(str(tflite_path))
    return cmd


def compile_model(tflite_path, out_dir, *, num_segments=None, intermediate_tensors=None,
                  search_delegate=False, delegate_search_step=None, timeout_s=600) -> dict:
    """Run `edgetpu_compiler -s -o OUT ...` and return its parsed log (see parse_compiler_log)."""
    tflite_path, out_dir = Path(tflite_path), Path(out_dir)
    load_flatbuffer(tflite_path)  # a clear error beats the compiler's "Invalid model"
    cmd = compiler_command(tflite_path, out_dir, num_segments=num_segments,
                           intermediate_tensors=intermediate_tensors, search_delegate=search_delegate,
                           delegate_search_step=delegate_search_step)
    compiler = find_compiler()
    if compiler is None:
        raise DeviceUnavailable("edgetpu_compiler not found on PATH; install it on x86-64 Linux with "
                                "converters/install_edgetpu_compiler.sh (see converters/README.md)")
    cmd[0] = str(compiler)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{tflite_path}: edgetpu_compiler ran over {timeout_s}s; raise timeout_s "
                        "or split the model with num_segments") from None
    text = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
    result = parse_compiler_log(text)
    result.update({"command": cmd, "returncode": proc.returncode, "log": text})
    if proc.returncode != 0:
        result["compiled"] = False
    (out_dir / f"{tflite_path.stem}_edgetpu_compiler.txt").write_text(text)
    return result


_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
_HEADER_FIELDS = {
    "input_model": r"^Input model: (.+)$",
    "output_model": r"^Output model: (.+)$",
    "operation_log": r"^Operation log: (.+)$",
    "compiler_version": r"^Edge TPU Compiler version (\S+)",
}
_SIZE_FIELDS = {
    "input_size_bytes": r"^Input size: (\S+)$",
    "output_size_bytes": r"^Output size: (\S+)$",
    "on_chip_memory_used_bytes": r"^On-chip memory used for caching model parameters: (\S+)$",
    "on_chip_memory_remaining_bytes": r"^On-chip memory remaining for caching model parameters: (\S+)$",
    "off_chip_memory_used_bytes": r"^Off-chip memory used for streaming uncached model parameters: (\S+)$",
}
_INT_FIELDS = {
    "edgetpu_subgraphs": r"^Number of Edge TPU subgraphs: (\d+)$",
    "total_operations": r"^Total number of operations: (\d+)$",
    "compile_time_ms": r"^Model compiled successfully in (\d+) ms",
    "delegate_search_step": r"^Searching for valid delegate with step (\d+)$",
}
_OP_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\S.*?)\s*$")


def _size_bytes(text: str) -> int | None:
    m = re.fullmatch(r"([\d.]+)(B|KiB|MiB|GiB)", text)
    return round(float(m.group(1)) * _SIZE_UNITS[m.group(2)]) if m else None


def parse_compiler_log(text: str) -> dict:
    """Fields of an `edgetpu_compiler -s` run (stdout or the .log it writes); absent fields are None.

        >>> parse_compiler_log("Edge TPU Compiler version 16.0.384591198\\n")["compiler_version"]
        '16.0.384591198'
    """
    lines = [l.rstrip() for l in text.splitlines()]
    result: dict = {k: _last_match(lines, p) for k, p in _HEADER_FIELDS.items()}
    result["input_model"] = result["input_model"] or _last_match(lines, r"^Input: (.+)$")
    result["output_model"] = result["output_model"] or _last_match(lines, r"^Output: (.+)$")
    for key, pattern in _SIZE_FIELDS.items():
        found = _last_match(lines, pattern)
        result[key] = _size_bytes(found) if found else None
    for key, pattern in _INT_FIELDS.items():
        found = _last_match(lines, pattern)
        result[key] = int(found) if found else None
    result["output_models"] = [m.group(1) for l in lines if (m := re.match(r"^Output model: (.+)$", l))]
    result["segments_tried"] = [int(m.group(1)) for l in lines
                                if (m := re.match(r"^Try to compile segment with (\d+) ops$", l))]
    result["ops"] = _parse_op_table(lines)
    result["errors"] = _parse_errors(lines)
    result["compiled"] = _compiled(lines)
    result["ops_on_tpu"], result["ops_on_cpu"] = _op_counts(lines, result["ops"])
    return result


def _last_match(lines: list[str], pattern: str) -> str | None:
    found = None
    for line in lines:
        m = re.match(pattern, line)
        if m:
            found = m.group(1).strip()
    return found


def _parse_op_table(lines: list[str]) -> list[dict]:
    rows, in_table = [], False
    for line in lines:
        if re.match(r"^Operator\s+Count\s+Status$", line):
            in_table, rows = True, []  # with -n, keep the last segment's table
            continue
        if not in_table or not line.strip():
            continue
        m = _OP_ROW.match(line)
        if not m:
            in_table = False
            continue
        rows.append({"op": m.group(1), "count": int(m.group(2)), "status": m.group(3),
                     "on_tpu": m.group(3) == MAPPED})
    return rows


def _parse_errors(lines: list[str]) -> list[str]:
    errors = [l for l in lines if l.startswith(("ERROR:", "Compilation failed", "Internal compiler error"))]
    for i, line in enumerate(lines):
        if line.startswith("Invalid model:"):
            errors.append(line + (f" ({lines[i + 1].strip()})" if i + 1 < len(lines) else ""))
    return errors


def _compiled(lines: list[str]) -> bool | None:
    if any(l.startswith("Model compiled successfully") for l in lines):
        return True
    if any(l.startswith(("Compilation failed", "Invalid model:", "Internal compiler error")) for l in lines):
        return False
    return None


def _op_counts(lines: list[str], rows: list[dict]) -> tuple[int | None, int | None]:
    tpu = _last_match(lines, r"^Number of operations that will run on Edge TPU: (\d+)$")
    cpu = _last_match(lines, r"^Number of operations that will run on CPU: (\d+)$")
    if tpu is not None and cpu is not None:
        return int(tpu), int(cpu)
    if not rows:
        return None, None
    # A fully mapped model prints no count lines; the table then holds them.
    on_tpu = sum(r["count"] for r in rows if r["on_tpu"])
    return on_tpu, sum(r["count"] for r in rows) - on_tpu
