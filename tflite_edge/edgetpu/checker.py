"""check_model: predict the compiler's mapping op by op, with the Keras layer and a fix for each."""
from __future__ import annotations

from pathlib import Path

from .graph import TFLiteGraph, int_list, load_flatbuffer
from .layers import load_keras_layers, op_layer
from .op_versions import version_problem
from .rules import (DOCS_URL, MAPPED, NOT_SUPPORTED, PARTITIONED, SUPPORTED_OPS, all_failures,
                    fully_quantized, is_boundary)

# What fixes the model-wide blockers in this toolkit: its edgetpu format is full int8, uint8 I/O, batch 1.
TOOLKIT_FIX = ("convert with tflite-edge's Edge TPU format: `tflite-edge convert MODEL.keras --format edgetpu "
               "--calibration DIR` (recipe: convert.formats: [..., edgetpu]): full int8, uint8 I/O, batch 1")

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


def _fix(rule: str, name: str, layer: str | None) -> str:
    where = f"Keras layer '{layer}'" if layer else f"the layer that produces {name}"
    if rule == "dynamic_shape":
        return (f"{TOOLKIT_FIX}; with another converter: a fixed batch, keras.Input(shape, batch_size=1), "
                "and no None dimensions")
    if rule == "op_version":
        return ("convert with the layer that raised the version changed (see the reason), or with the "
                "TF 2.5 converter; the Edge TPU compiler 16.0 reads TF 2.5's operator versions only")
    if rule == "unsupported_dtype":
        return (f"{TOOLKIT_FIX}; with another converter: full-integer quantization, optimizations=[tf.lite.Optimize.DEFAULT], "
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


def check_model(path: Path, keras_model_path: Path | None = None) -> dict:
    """Predict the Edge TPU compiler's mapping of a .tflite, op by op, with reasons and fixes.

        >>> check_model(Path("m.tflite"))["ops"][0]["status"]     # doctest: +SKIP
        'Mapped to Edge TPU'
    """
    path = Path(path)
    model = load_flatbuffer(path)
    g = TFLiteGraph(model, path)
    keras_layers, output_layers = (load_keras_layers(keras_model_path) if keras_model_path
                                   else (None, []))
    ops = _classify_ops(g, keras_layers, output_layers)
    findings = _findings(ops)
    causes = _causes(ops)
    extra_subgraphs = len(model.subgraphs) - 1
    if extra_subgraphs:
        flow = {"rule": "control_flow", "status": NOT_SUPPORTED, "op": None, "layer": None,
                "ops": [], "reason": f"the model has {extra_subgraphs} extra subgraph(s) "
                "(tf.cond/tf.while_loop); they run on the CPU", "fix": "remove control flow from the model body"}
        findings.append(flow)
        causes.append({**flow, "count": extra_subgraphs, "op_types": [], "layers": []})
    on_tpu = sum(1 for o in ops if o["status"] == MAPPED)
    report = {
        "model": str(path), "ops": ops, "on_tpu": on_tpu, "on_cpu": len(ops) - on_tpu,
        "fully_quantized": fully_quantized(g),
        "findings": findings, "causes": causes,
    }
    report["blockers"] = _blockers(report)
    report["verdict"], report["summary"] = _verdict(report)
    return report


def _classify_ops(g: TFLiteGraph, keras_layers, output_layers) -> list[dict]:
    cpu_tensors: set[int] = set()
    ops = []
    for index, op in enumerate(g.sg.operators or []):
        name = g.op_name(op)
        layer = op_layer(g, op, keras_layers, output_layers)
        failures = all_failures(g, name, op) + _version_failure(g, op, name)  # versions: model-wide
        status, rule, reason = failures[0] if failures else (MAPPED, None, "")
        # One partition: an op fed (directly or not) by a CPU op cannot go back to the TPU.
        if status == MAPPED and any(i in cpu_tensors for i in int_list(op.inputs)):
            status, rule, reason = PARTITIONED, "partition", "runs after an operation on the CPU"
        if status != MAPPED and not is_boundary(g, name, op):
            cpu_tensors.update(int_list(op.outputs))
        ops.append({"index": index, "op": name, "status": status, "rule": rule, "reason": reason,
                    "layer": layer, "fix": _fix(rule, name, layer) if rule else "",
                    "rules": [f[1] for f in failures], "reasons": {f[1]: f[2] for f in failures}})
    return ops


def _version_failure(g: TFLiteGraph, op, name: str) -> list:
    code = g.model.operatorCodes[op.opcodeIndex]
    number = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
    problem = version_problem(name, int(code.version or 1), number)
    return [(NOT_SUPPORTED, "op_version", problem)] if problem else []


def _causes(ops: list[dict]) -> list[dict]:
    """One entry per rule broken: how many operations, which op types and layers first, one reason."""
    causes: dict[str, dict] = {}
    for o in ops:
        for rule in o["rules"]:
            c = causes.setdefault(rule, {"rule": rule, "count": 0, "ops": [], "op_types": [], "layers": [],
                                         "reason": o["reasons"][rule], "fix": _fix(rule, o["op"], o["layer"])})
            c["count"] += 1
            c["ops"].append(o["index"])
            if o["op"] not in c["op_types"]:
                c["op_types"].append(o["op"])
            if o["layer"] and o["layer"] not in c["layers"]:
                c["layers"].append(o["layer"])
    pushed = [o for o in ops if o["rule"] == "partition"]
    if pushed:
        causes["partition"] = {"rule": "partition", "count": len(pushed), "ops": [o["index"] for o in pushed],
                               "op_types": list(dict.fromkeys(o["op"] for o in pushed)),
                               "layers": list(dict.fromkeys(o["layer"] for o in pushed if o["layer"])),
                               "reason": "supported, but after an operation on the CPU (one Edge TPU partition)",
                               "fix": _fix("partition", "", None)}
    return list(causes.values())


def _blockers(report: dict) -> list[str]:
    """What stops the compiler for the whole model, each named; [] when it will compile."""
    by_rule = {c["rule"]: c for c in report["causes"]}
    out = []
    if not report["fully_quantized"] and report["on_tpu"] == 0:  # partly float: those ops go to the CPU
        n = by_rule.get("unsupported_dtype", {}).get("count", 0)
        out.append(f"the model is float, not full-integer ({n} operation(s) on float tensors): the compiler will "
                   "answer 'Model not quantized'")
    if "dynamic_shape" in by_rule:
        c = by_rule["dynamic_shape"]
        out.append(f"dynamic shapes ({c['reason'].split(';')[0]}; {c['count']} operation(s)): the compiler stops on "
                   "dynamic-sized tensors; the batch must be 1")
    if "op_version" in by_rule:
        c = by_rule["op_version"]
        out.append(f"operator versions newer than TF 2.5 ({c['count']} operation(s); {c['reason']})")
    return out


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


def _verdict(report: dict) -> tuple[str, str]:
    total, on_tpu = len(report["ops"]), report["on_tpu"]
    if report["blockers"]:
        return "not_compilable", "the compiler will stop: " + "; ".join(report["blockers"])
    if total and on_tpu == total:
        return "all_on_tpu", f"all {total} operations will run on the Edge TPU"
    # what sends operations to the CPU, named in the verdict (partition: a consequence, not a cause)
    why = "; ".join(f"{c['rule']} ({', '.join(c['op_types'][:3]) or 'model'})" for c in report["causes"]
                    if c["rule"] != "partition")
    why = f"; on the CPU because of {why}" if why else ""
    if on_tpu == 0:
        return "all_on_cpu", f"none of the {total} operations will run on the Edge TPU{why}"
    return "partial", f"{on_tpu} of {total} operations on the Edge TPU, {total - on_tpu} on the CPU{why}"
