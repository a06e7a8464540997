"""Per-layer precision for a float TFLite model, by Google's ai-edge-quantizer (AEQ).

A *unit* is one layer (or block) of the float artifact: the TFLite ops whose output tensors carry
its Keras layer name. A *plan* gives each unit a precision:

    int8      static int8 weights and activations (what the `int8` format does for every op)
    int16x8   int16 activations, int8 weights (the `int16x8` format's scheme, per unit)
    float32   left as it is

AEQ takes a recipe of (regex over an op's output tensor names -> quantization config), so a plan
becomes one static config per quantized unit, with a regex that matches exactly that unit's ops;
ops of float32 units match nothing and stay float, and AEQ puts QUANTIZE / DEQUANTIZE ops at the
boundaries. The graph's input and output tensors match no unit either, so every mixed artifact has
float input and output, like the `int8` format (one preprocessing for all, and the same metadata).

Calibration runs once (every tensor's min/max over the calibration images) and serves every plan:
min/max does not depend on the bit width a plan picks.
"""
from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Sequence

import numpy as np

from ..errors import UserInputError

PRECISIONS = ("int8", "int16x8", "float32")
BITS = {"int8": (8, 8), "int16x8": (16, 8)}  # (activation bits, weight bits)
# Keras layer name -> the block it belongs to: our backbones' `block3_expand`, keras
# applications' `block_3_expand`, `block2a_expand_conv`, `expanded_conv_3/...`.
_BLOCK = re.compile(r"^(?P<block>(?:stem|head|block_?\d+[a-z]?|expanded_conv(?:_\d+)?))(?:_|$)")


@dataclass(frozen=True)
class Unit:
    """One layer or block: its name, TFLite op indices, op types and output-name scopes."""
    name: str
    ops: tuple
    op_types: tuple
    scopes: tuple

    @property
    def regex(self) -> str:
        # AEQ's scope is the output names joined by ';', with a trailing ';' (get_op_scope)
        return "^(?:" + "|".join(re.escape(s) for s in self.scopes) + ");?$"


def layer_of(tensor_name: str) -> str:
    """The Keras layer an op output belongs to: `model/block3_expand_conv/Conv2D;...` ->
    `block3_expand_conv` (the first name of a ';'-joined fused name; its second path part)."""
    first = tensor_name.split(";")[0]
    parts = [p for p in first.split("/") if p]
    return parts[1] if len(parts) > 1 else parts[0] if parts else tensor_name


def op_units(model_bytes: bytes, granularity: str = "block") -> List[tuple]:
    """(op index, op type, AEQ scope, unit name) of every op in graph order; the unit is the op's
    Keras layer (`layer`) or that layer's backbone block (`block`), `output` for the op that
    writes a graph output (its tensor carries the signature's name, not a layer's)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=bytes(model_bytes))
    tensors = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    graph_outputs = {d["index"] for d in interp.get_output_details()}
    rows = []
    for op in interp._get_ops_details():  # the interpreter's own op list (no public API for it)
        names = [tensors[i] for i in op["outputs"] if i >= 0]
        if op["op_name"] == "DELEGATE" or not names:
            continue
        layer = "output" if any(i in graph_outputs for i in op["outputs"]) else layer_of(names[0])
        if granularity == "block" and (m := _BLOCK.match(layer)):
            layer = m["block"]
        rows.append((op["index"], op["op_name"], ";".join(names), layer))
    return rows


def units_of(model_bytes: bytes, granularity: str = "block") -> List[Unit]:
    """The float model's units in graph order (`op_units` grouped by unit)."""
    groups: Dict[str, dict] = {}
    for index, op_type, scope, unit in op_units(model_bytes, granularity):
        g = groups.setdefault(unit, {"ops": [], "types": [], "scopes": []})
        g["ops"].append(index)
        g["types"].append(op_type)
        g["scopes"].append(scope)
    return [Unit(k, tuple(g["ops"]), tuple(g["types"]), tuple(g["scopes"])) for k, g in groups.items()]


class MixedQuantizer:
    """Quantizes one float TFLite model under any plan; calibrated once."""

    def __init__(self, float_bytes: bytes, units: Sequence[Unit], calibration: np.ndarray,
                 signature: str = "serving_default"):
        try:
            from ai_edge_quantizer import quantizer, qtyping
        except ImportError:
            raise UserInputError("convert.mixed needs ai-edge-quantizer: reinstall with pip install -e . "
                                 "(setup.cfg pins it)") from None
        self._quantizer, self._qtyping = quantizer, qtyping
        self.float_bytes = bytes(float_bytes)
        self.units = list(units)
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(model_content=self.float_bytes).get_signature_list()
        if signature not in sigs:
            signature = next(iter(sigs))
        self.signature = signature
        input_name = sigs[signature]["inputs"][0]
        data = [{input_name: np.asarray(x[None], np.float32)} for x in calibration]
        # Every tensor's min/max, the graph input included (a plan's first quantized op needs it).
        q = self._quantizer.Quantizer(self.float_bytes)
        q.add_static_config(".*", self._qtyping.TFLOperationName.ALL_SUPPORTED, 8, 8)
        with contextlib.redirect_stderr(io.StringIO()):  # AEQ's tqdm bar
            self.calibration = q.calibrate({signature: data}, num_threads=1)

    def _new(self, plan: Dict[str, str], float_ops: FrozenSet[str] = frozenset()):
        q = self._quantizer.Quantizer(self.float_bytes)
        names = {op.value for op in self._qtyping.TFLOperationName}
        for unit in self.units:
            precision = plan.get(unit.name, "float32")
            if precision == "float32":
                continue
            act, weight = BITS[precision]
            if not float_ops:
                q.add_static_config(unit.regex, self._qtyping.TFLOperationName.ALL_SUPPORTED, act, weight)
                continue
            # op types kept float inside quantized units (those the delegate does not run quantized):
            # one config per remaining op type of the unit (AEQ names them as TFLite does)
            for op_type in sorted(set(unit.op_types) - set(float_ops)):
                if op_type in names:
                    q.add_static_config(unit.regex, self._qtyping.TFLOperationName(op_type), act, weight)
        return q

    def quantize(self, plan: Dict[str, str], float_ops: FrozenSet[str] = frozenset()) -> bytes:
        """TFLite bytes of `plan` ({unit name: precision}; units not named stay float32), with the op
        types in `float_ops` left float everywhere."""
        unknown = sorted(set(plan) - {u.name for u in self.units})
        if unknown:
            raise UserInputError(f"convert.mixed: no layer or block named {unknown[0]!r} in the model")
        if all(p == "float32" for p in plan.values()):
            return self.float_bytes
        q = self._new(plan, frozenset(float_ops))
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # AEQ's tqdm bars
                result = q.quantize(self.calibration, enable_progress_bar=False, enable_progress_report=False)
        except (ValueError, NotImplementedError, KeyError, RuntimeError) as e:
            raise PrecisionError(describe_failure(e, plan, self.units)) from None
        return bytes(result.quantized_model)


class PrecisionError(UserInputError):
    """AEQ cannot give a precision for an op: the message names the op, the unit and the precision."""


def describe_failure(error: Exception, plan: Dict[str, str], units: Sequence[Unit]) -> str:
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    for unit in units:
        for t in unit.op_types:
            if t in text.upper():
                return (f"ai-edge-quantizer cannot give {plan.get(unit.name)} to {t} in layer {unit.name} "
                        f"({text}); keep that layer at another precision")
    return f"ai-edge-quantizer failed on this plan ({text})"


def plan_summary(plan: Dict[str, str], units: Sequence[Unit], float_ops=()) -> Dict[str, int]:
    """How many ops each precision got."""
    counts = {p: 0 for p in PRECISIONS}
    for u in units:
        for op_type in u.op_types:
            counts["float32" if op_type in float_ops else plan.get(u.name, "float32")] += 1
    return counts
