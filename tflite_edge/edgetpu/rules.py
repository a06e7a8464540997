"""Coral's documented Edge TPU requirements as rules, in the compiler's own status vocabulary.

Each rule takes (graph, op name, op) and returns None or (status, rule, reason); `first_failure`
applies them in the order the compiler appears to.
"""
from __future__ import annotations

from .graph import TFLiteGraph, int_list
from ..errors import UserInputError

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


# --------------------------------------------------------------------------------------------
# The rules, one small function each. Each returns None or (status, rule, reason).
# --------------------------------------------------------------------------------------------

_EIGHT_BIT = {"INT8", "UINT8"}


def _activations(g: TFLiteGraph, op) -> list[int]:
    return [i for i in int_list(op.inputs) + int_list(op.outputs) if i >= 0 and not g.is_constant(i)]


def is_boundary(g: TFLiteGraph, name: str, op) -> bool:
    """Float QUANTIZE at a model input / DEQUANTIZE at an output: on the CPU, but they cut nothing."""
    ins, outs = [i for i in int_list(op.inputs) if i >= 0], int_list(op.outputs)
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
    if is_boundary(g, name, op):
        return BAD_DTYPE, "float_io", (f"{name} converts the model's float "
                                       f"{'input' if name == 'QUANTIZE' else 'output'} on the CPU")
    return None


def _rule_dtype(g, name, op):
    for i in _activations(g, op):
        if g.dtype(i) not in _EIGHT_BIT:
            return BAD_DTYPE, "unsupported_dtype", (f"tensor '{g.name(i)}' is {g.dtype(i)}; "
                                                    "the Edge TPU runs only 8-bit tensors")
    weight = _WEIGHT_INPUT.get(name)
    ins = int_list(op.inputs)
    if weight is not None and weight < len(ins) and ins[weight] >= 0 and g.is_constant(ins[weight]):
        if g.dtype(ins[weight]) not in _EIGHT_BIT:
            return BAD_DTYPE, "unsupported_dtype", (f"weights '{g.name(ins[weight])}' are "
                                                    f"{g.dtype(ins[weight])}, not 8-bit")
    return None


def _rule_rank(g, name, op):
    for i in _activations(g, op):
        shape = g.shape(i)
        if len(shape) > 3 and any(d > 1 for d in shape[:-3]):  # -1 (dynamic) is _rule_dynamic's
            return BAD_RANK, "tensor_rank", (f"tensor '{g.name(i)}' has shape {shape}: only the 3 "
                                             "innermost dimensions may be larger than 1 (batch 1)")
    return None


def _rule_supported(g, name, op):
    if name not in SUPPORTED_OPS:
        return NOT_SUPPORTED, "unsupported_op", f"{name} is not in the Edge TPU operation table"
    return None


def _rule_constant_params(g, name, op):
    ins = int_list(op.inputs)
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
    return [d for d in shape if d > 1]  # -1, a dynamic batch, is _rule_dynamic's


def _axis_values(g, op, pos: int = 1) -> list[int]:
    ins = int_list(op.inputs)
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
    ins = [i for i in int_list(op.inputs) if i >= 0]
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
    out = int_list(op.outputs)[0]
    if len(_non_unit(g.shape(out))) > 1:
        return _constraint(f"FULLY_CONNECTED output {g.shape(out)} is not one-dimensional "
                           "(a Dense layer applied to a 3D/4D tensor)")
    return None


def _c_reduce(g, op):
    rank = len(g.shape(int_list(op.inputs)[0]))
    if _touches_batch(_axis_values(g, op), rank):
        return _constraint("reduces over the batch dimension")
    return None


def _c_pad(g, op):
    paddings = _axis_values(g, op)
    if len(paddings) >= 2 and (paddings[0] or paddings[1]):
        return _constraint(f"pads the batch dimension ({paddings[:2]})")
    return None


def _c_axis_option(g, op):
    rank = len(g.shape(int_list(op.outputs)[0]))
    axis = int(getattr(_options(op), "axis", 0) or 0)
    if rank >= 2 and axis % rank == 0:
        return _constraint("works along the batch dimension")
    return None


def _c_split(g, op):
    ins = int_list(op.inputs)
    rank = len(g.shape(ins[1])) if len(ins) > 1 else 0
    if _touches_batch(_axis_values(g, op, 0), rank):
        return _constraint("splits along the batch dimension")
    return None


def _c_softmax(g, op):
    shape = g.shape(int_list(op.inputs)[0])
    elements = 1
    for d in shape:
        elements *= max(d, 1)
    if len(_non_unit(shape)) > 1 or elements > 16000:
        return _constraint(f"SOFTMAX input {shape} is not a 1-D tensor of at most 16,000 elements")
    return None


def _c_prelu(g, op):
    ins = int_list(op.inputs)
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
    shape = g.shape(int_list(op.inputs)[0])
    dims = int_list(getattr(_options(op), "squeezeDims", None)) or [i for i, d in enumerate(shape) if d == 1]
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


def first_failure(g: TFLiteGraph, name: str, op):
    """The first rule the op breaks, as (status, rule, reason), or None when it maps."""
    for rule in _RULES:
        found = rule(g, name, op)
        if found:
            return found
    return None


def all_failures(g: TFLiteGraph, name: str, op) -> list:
    """Every rule the op breaks (the report groups them by cause; the status is the first's)."""
    found = [f for f in (rule(g, name, op) for rule in _RULES) if f]
    # a float I/O (de)quantize is that one thing; its float tensor and the op itself follow from it
    return [f for f in found if f[1] == "float_io"] or found


def fully_quantized(g: TFLiteGraph) -> bool:
    """Whether every op past the float I/O boundary works on 8-bit tensors and weights."""
    for op in g.sg.operators or []:
        name = g.op_name(op)
        if is_boundary(g, name, op):
            continue
        if _rule_dtype(g, name, op):
            return False
    return True
