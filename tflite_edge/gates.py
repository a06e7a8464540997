"""Quality gates from `evaluate:`: each a name, the measured value, the threshold and pass/fail.

What every task shares: the gate record, the "at least" and "at most a drop" shapes, and the Edge
TPU gate of edgetpu artifacts. Which scores are gated is the task's (tasks/*/evaluate.py).
"""
from __future__ import annotations

from typing import Optional


def gate(name: str, value, threshold, passed: bool) -> dict:
    return {"name": name, "value": value, "threshold": threshold, "passed": passed}


def at_least(name: str, value: float, threshold: Optional[float]) -> list:
    """[the gate value >= threshold], or [] when the recipe sets no threshold."""
    return [] if threshold is None else [gate(name, value, threshold, value >= threshold)]


def at_most_drop(name: str, reference: float, value: float, limit: Optional[float]) -> list:
    """[the gate reference - value <= limit] (a drop from the Keras model), or [] without a limit."""
    if limit is None:
        return []
    drop = reference - value
    return [gate(name, drop, limit, drop <= limit + 1e-12)]


def edgetpu_gates(spec, artifact: dict) -> list:
    """An edgetpu artifact's ops predicted to fall back to the CPU, against `edgetpu_max_cpu_ops`."""
    check = artifact.get("edgetpu_check")
    if check is None or spec.edgetpu_max_cpu_ops is None:
        return []
    return [gate(f"edgetpu_max_cpu_ops[{artifact['name']}]", check["on_cpu"], spec.edgetpu_max_cpu_ops,
                 check["verdict"] != "not_compilable" and check["on_cpu"] <= spec.edgetpu_max_cpu_ops)]
