"""How a search trial is scored and compared: MnasNet's reward and the trials' Pareto front.

Standard library only (no TensorFlow), like the trial records it reads.
"""
from __future__ import annotations

from typing import Optional

from ..pareto import pareto_front as non_dominated

OBJECTIVE = "reward"  # what keras-tuner's oracle maximises
SEARCH_DIR = "search"  # the stage's folder in the run directory


def mnasnet_reward(accuracy: float, latency_ms: float, target_ms: float, weight: float,
                   weight_under: Optional[float] = None) -> float:
    """MnasNet's reward ACC * (LAT / T)^w, with w = `weight_under` (alpha) when LAT <= T and `weight`
    (beta) above T. alpha = beta = -0.07 is the paper's soft constraint (any speed-up still pays);
    alpha = 0, beta = -1 its hard one (below T only accuracy counts).

    >>> round(mnasnet_reward(0.9, 2.0, 1.0, -0.07), 4)
    0.8574
    >>> mnasnet_reward(0.9, 0.5, 1.0, -1.0, weight_under=0.0)
    0.9
    """
    w = weight if weight_under is None or latency_ms > target_ms else weight_under
    return float(accuracy * (latency_ms / target_ms) ** w)


def pareto_front(records: list) -> list:
    """Ids of completed trials no other trial beats on accuracy, latency and size at once.

    >>> pareto_front([{"trial_id": "0", "status": "completed", "accuracy": 0.9, "latency_ms": 2.0, "size_bytes": 10},
    ...               {"trial_id": "1", "status": "completed", "accuracy": 0.8, "latency_ms": 3.0, "size_bytes": 10}])
    ['0']
    """
    done = [r for r in records if r.get("status") == "completed"]
    return [r["trial_id"] for r in non_dominated(done, maximize=("accuracy",), minimize=("latency_ms", "size_bytes"))]


def describe(spec, input_size: Optional[int]) -> str:
    parts = [f"width {spec.width:g}", f"{input_size} px", f"depth {spec.depth_multiplier:g}"]
    if spec.kernel_sizes:
        parts.append("k" + "".join(map(str, spec.kernel_sizes)))
    if spec.expansions:
        parts.append("e" + "".join(map(str, spec.expansions)))
    return ", ".join(parts)
