"""Which exit answers: the cascade's decision rule, thresholds, exit rates and latency (numpy only).

`scores` is a list with one (N, classes) array per exit and the final head last, each row the
softmax of one image. An image leaves at the first exit whose top score reaches that exit's
threshold; the final head answers the rest. Running every segment on every image once and applying
this rule gives exactly what the cascade gives image by image (runner.Cascade.predict does that
for real), and lets one pass score every threshold.

>>> s = [np.array([[0.95, 0.05], [0.6, 0.4]]), np.array([[0.2, 0.8], [0.1, 0.9]])]
>>> decide(s, [0.9])
(array([0, 1]), array([0, 1]))
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from .... import margin

# thresholds auto tries, ascending: coarse where softmax tops are rarely decisive, fine near 1
THRESHOLD_GRID = tuple(np.round(np.concatenate([np.arange(0.30, 0.95, 0.01),
                                                [0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995, 0.998, 0.999]]), 4))


def decide(scores: Sequence[np.ndarray], thresholds: Sequence[float]):
    """(predicted class, exit index) per image; exit index len(thresholds) is the final head."""
    n_exits = len(scores) - 1
    if len(thresholds) != n_exits:
        raise ValueError(f"{len(thresholds)} threshold(s) for {n_exits} exit(s)")
    n = len(scores[-1])
    exit_at = np.full(n, n_exits, dtype=np.int64)
    undecided = np.ones(n, dtype=bool)
    for k, (s, t) in enumerate(zip(scores[:-1], thresholds)):
        leave = undecided & (s.max(axis=-1) >= t)
        exit_at[leave] = k
        undecided &= ~leave
    stacked = np.stack([np.asarray(s) for s in scores])  # (exits + 1, N, classes)
    pred = np.argmax(stacked[exit_at, np.arange(n)], axis=-1)
    return pred, exit_at


def exit_rates(exit_at: np.ndarray, n_exits: int) -> List[float]:
    """Fraction of images answered by each exit, the final head last."""
    return [float(np.mean(exit_at == k)) if len(exit_at) else 0.0 for k in range(n_exits + 1)]


def score(scores, labels, thresholds) -> dict:
    pred, exit_at = decide(scores, thresholds)
    labels = np.asarray(labels)
    return {"thresholds": [float(t) for t in thresholds], "accuracy": float(np.mean(pred == labels)),
            "exit_rates": exit_rates(exit_at, len(scores) - 1)}


def thresholds_for(fixed: Sequence[Optional[float]], shared: float) -> List[float]:
    return [float(shared) if t is None else float(t) for t in fixed]


def choose_threshold(scores, labels, fixed: Sequence[Optional[float]], max_accuracy_drop: float,
                     confidence: Optional[float] = None, reference_pred: Optional[np.ndarray] = None) -> dict:
    """The lowest shared threshold (for the exits in `fixed` that are None) whose accuracy drop
    against the reference stays within `max_accuracy_drop`: lower exits more images. The
    reference is `reference_pred` (the full model of the same format, which the report compares
    with), else the cascade's own final head.

    With `confidence`, the drop kept within the limit is the one-sided upper bound on unseen data
    (margin.accuracy_drop_upper_bound), and thresholds are tested from the highest down, stopping
    at the first that fails (fixed-sequence testing): the bound then holds for the threshold
    chosen at that confidence, although many were tried. Without it, the drop on these images.

    Returns {threshold, accuracy, final_accuracy, met, drop, ...} (with `confidence` also its
    drop_bound and margin); `met` False means
    even the highest threshold in the grid missed the limit, and that highest one is used."""
    labels = np.asarray(labels)
    final_correct = (np.argmax(scores[-1], axis=-1) if reference_pred is None else np.asarray(reference_pred)) == labels

    def at(t):
        pred, exit_at = decide(scores, thresholds_for(fixed, t))
        correct = pred == labels
        bound = (margin.accuracy_drop_upper_bound(final_correct, correct, confidence) if confidence
                 else margin.accuracy_drop(final_correct, correct))
        return float(t), correct, exit_at, bound

    chosen = None
    for t in sorted(THRESHOLD_GRID, reverse=True):
        candidate = at(t)
        if candidate[3] > max_accuracy_drop + 1e-12:
            break
        chosen = candidate
    met = chosen is not None
    if not met:
        chosen = at(max(THRESHOLD_GRID))
    t, correct, exit_at, bound = chosen
    out = {"threshold": t, "accuracy": float(np.mean(correct)), "final_accuracy": float(np.mean(final_correct)),
           "met": met, "exit_rates": exit_rates(exit_at, len(scores) - 1), "samples": int(len(labels)),
           "drop": margin.accuracy_drop(final_correct, correct)}
    if confidence:
        out.update(confidence=float(confidence), drop_bound=bound, margin=bound - out["drop"],
                   bound_method=margin.METHOD)
    return out


def sweep(scores, labels, fixed: Sequence[Optional[float]], grid: Sequence[float] = THRESHOLD_GRID) -> List[dict]:
    """Accuracy and exit rates at every shared threshold (exits with their own keep it)."""
    return [dict(score(scores, labels, thresholds_for(fixed, t)), shared_threshold=float(t)) for t in grid]


def per_image_latency_ms(exit_at: np.ndarray, segment_ms: Sequence[float]) -> np.ndarray:
    """What each image costs: the segments up to and including the one whose exit answered it."""
    return np.cumsum(np.asarray(segment_ms, dtype=np.float64))[np.asarray(exit_at)]


def latency_from_rates(exit_rates: Sequence[float], segment_ms: Sequence[float]) -> float:
    """Mean per-image latency from exit rates and per-segment mean latencies."""
    return float(np.dot(np.asarray(exit_rates), np.cumsum(np.asarray(segment_ms, dtype=np.float64))))


def latency_summary(exit_at: np.ndarray, segment_ms: Sequence[float]) -> dict:
    ms = per_image_latency_ms(exit_at, segment_ms)
    return {"latency_ms_mean": float(ms.mean()), "latency_ms_p50": float(np.percentile(ms, 50)),
            "latency_ms_p90": float(np.percentile(ms, 90))}
