"""The Pareto front: the items no other item beats on every objective at once.

One definition for the search's trials (accuracy, latency, size) and the report's artifacts
(quality, latency). Standard library only.

>>> [p["id"] for p in pareto_front([{"id": "a", "acc": 0.9, "ms": 2.0}, {"id": "b", "acc": 0.8, "ms": 3.0}],
...                                maximize=("acc",), minimize=("ms",))]
['a']
"""
from __future__ import annotations

from typing import Sequence


def dominates(a: dict, b: dict, maximize: Sequence[str], minimize: Sequence[str]) -> bool:
    """`a` is no worse than `b` on every objective and better on at least one."""
    no_worse = all(a[k] >= b[k] for k in maximize) and all(a[k] <= b[k] for k in minimize)
    better = any(a[k] > b[k] for k in maximize) or any(a[k] < b[k] for k in minimize)
    return no_worse and better


def pareto_front(items: Sequence[dict], maximize: Sequence[str] = (), minimize: Sequence[str] = ()) -> list:
    """The items no other item dominates, in their given order (equal items all stay)."""
    return [a for a in items if not any(dominates(b, a, maximize, minimize) for b in items if b is not a)]
