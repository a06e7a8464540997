"""How much a choice made on a validation split can be trusted on unseen data (numpy + stdlib).

A choice that keeps the validation accuracy drop just under a limit (an exit threshold, a
precision per layer) meets the limit on new images only about half the time: the validation drop
is one noisy sample. `accuracy_drop_upper_bound` turns the paired per-image results of the
reference and the candidate into a one-sided upper confidence bound on the drop in the population
those images come from; a choice keeps the bound, not the point estimate, under the limit.

The bound is Bonett & Price's adjusted Wald interval for the difference of two paired proportions
(Psychological Methods 17(4), 2012): one success and one failure added to each discordant cell
(images only one of the two gets right), so it stays informative when they are few or none.

>>> ref = np.array([True] * 990 + [False] * 10); cand = ref.copy(); cand[:3] = False
>>> round(accuracy_drop_upper_bound(ref, cand, 0.95), 4)
0.0067
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

DEFAULT_CONFIDENCE = 0.95
METHOD = "one-sided Bonett-Price adjusted Wald bound on paired per-image correctness"


def accuracy_drop_upper_bound(ref_correct: Sequence[bool], cand_correct: Sequence[bool],
                              confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Upper bound, at `confidence`, on accuracy(ref) - accuracy(cand) on unseen data from the
    same distribution, given both models' per-image correctness on the same images."""
    ref, cand = np.asarray(ref_correct, dtype=bool), np.asarray(cand_correct, dtype=bool)
    if ref.shape != cand.shape or ref.ndim != 1:
        raise ValueError(f"paired results must be two 1-D arrays of one length (got {ref.shape}, {cand.shape})")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1) (got {confidence})")
    n = ref.size
    if n == 0:
        return 1.0  # nothing seen, nothing promised
    lost = int(np.sum(ref & ~cand)) + 1.0     # right before, wrong now
    gained = int(np.sum(~ref & cand)) + 1.0   # wrong before, right now
    p_lost, p_gained = lost / (n + 2), gained / (n + 2)
    diff = p_lost - p_gained
    se = math.sqrt(max(p_lost + p_gained - diff * diff, 0.0) / (n + 2))
    return float(min(1.0, diff + NormalDist().inv_cdf(confidence) * se))


def accuracy_drop(ref_correct: Sequence[bool], cand_correct: Sequence[bool]) -> float:
    """The observed drop on these images (the bound's point of comparison)."""
    ref, cand = np.asarray(ref_correct, dtype=bool), np.asarray(cand_correct, dtype=bool)
    return float(ref.mean() - cand.mean()) if ref.size else 0.0
