"""Quality gates from `evaluate:`: each a name, the measured value, the threshold and pass/fail."""
from __future__ import annotations


def check_gates(spec, keras_acc: float, artifacts: list) -> list:
    gates = []
    if spec.min_keras_accuracy is not None:
        gates.append({"name": "min_keras_accuracy", "value": keras_acc, "threshold": spec.min_keras_accuracy,
                      "passed": keras_acc >= spec.min_keras_accuracy})
    for a in artifacts:
        limit = spec.max_accuracy_drop_by_format.get(a["format"], spec.max_accuracy_drop)
        if limit is not None:
            drop = keras_acc - a["accuracy"]
            gates.append({"name": f"max_accuracy_drop[{a['name']}]", "value": drop, "threshold": limit,
                          "passed": drop <= limit + 1e-12})
        if spec.min_agreement is not None:
            gates.append({"name": f"min_agreement[{a['name']}]", "value": a["agreement_with_keras"],
                          "threshold": spec.min_agreement,
                          "passed": a["agreement_with_keras"] >= spec.min_agreement})
        mixed = a.get("mixed")
        if mixed is not None:  # the search's own bound, on the validation split
            gates.append({"name": f"mixed_max_accuracy_drop[{a['name']}]", "value": mixed["val_accuracy_drop"],
                          "threshold": mixed["max_accuracy_drop"], "passed": bool(mixed["met"])})
        check = a.get("edgetpu_check")
        if check is not None and spec.edgetpu_max_cpu_ops is not None:
            gates.append({"name": f"edgetpu_max_cpu_ops[{a['name']}]", "value": check["on_cpu"],
                          "threshold": spec.edgetpu_max_cpu_ops,
                          "passed": check["verdict"] != "not_compilable" and check["on_cpu"] <= spec.edgetpu_max_cpu_ops})
    return gates
