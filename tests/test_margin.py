"""The statistical margin for choices made on a validation split (tflite_edge/margin.py)."""
import numpy as np
import pytest

from tflite_edge import margin
from tflite_edge.tasks.classification.adaptive import cascade


def _paired(n, p_ref, p_lost, p_gained, rng):
    """Per-image correctness of a reference and a candidate: the candidate loses p_lost of the
    images and gains p_gained (of all images), otherwise agrees."""
    ref = rng.random(n) < p_ref
    u = rng.random(n)
    cand = ref.copy()
    cand[ref & (u < p_lost / p_ref)] = False
    cand[~ref & (u < p_gained / (1 - p_ref))] = True
    return ref, cand


def test_bound_lies_above_the_observed_drop_and_tightens_with_more_images():
    rng = np.random.default_rng(0)
    small = _paired(500, 0.9, 0.02, 0.01, rng)
    large = _paired(50000, 0.9, 0.02, 0.01, rng)
    for ref, cand in (small, large):
        assert margin.accuracy_drop_upper_bound(ref, cand, 0.95) > margin.accuracy_drop(ref, cand)
    width = [margin.accuracy_drop_upper_bound(r, c, 0.95) - margin.accuracy_drop(r, c) for r, c in (small, large)]
    assert width[1] < width[0] / 5
    # a higher confidence asks for a wider margin
    assert margin.accuracy_drop_upper_bound(*small, 0.99) > margin.accuracy_drop_upper_bound(*small, 0.9)


def test_identical_predictions_still_get_a_small_positive_bound():
    ref = np.arange(6000) % 10 != 0
    bound = margin.accuracy_drop_upper_bound(ref, ref, 0.95)
    assert 0 < bound < 0.001


def test_bound_covers_the_true_drop_at_its_confidence():
    """Many validation splits drawn from one population whose true drop is 0.01: the 90% bound
    stays above it in about 90% of them (the normal approximation: within a few points)."""
    rng = np.random.default_rng(1)
    true_drop, trials = 0.02 - 0.01, 2000
    covered = sum(margin.accuracy_drop_upper_bound(*_paired(600, 0.9, 0.02, 0.01, rng), 0.9) >= true_drop
                  for _ in range(trials))
    assert 0.87 <= covered / trials <= 0.95


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="paired"):
        margin.accuracy_drop_upper_bound([True, False], [True])
    with pytest.raises(ValueError, match="confidence"):
        margin.accuracy_drop_upper_bound([True], [True], 1.0)
    assert margin.accuracy_drop_upper_bound([], [], 0.95) == 1.0


def _exit_scores(n, rng):
    """An exit that is right above 0.7 confidence and wrong 30% of the time below; a final head
    that is always right."""
    labels = np.arange(n) % 4
    final = np.eye(4)[labels] * 0.9 + 0.025
    conf = rng.uniform(0.3, 1.0, n)
    wrong = (conf < 0.7) & (rng.random(n) < 0.3)
    pred = np.where(wrong, (labels + 1) % 4, labels)
    s0 = np.full((n, 4), 0.0)
    s0[np.arange(n), pred] = conf
    s0 += (1 - conf)[:, None] / 4
    return [s0, final], labels


def test_auto_threshold_with_a_margin_keeps_the_bound_not_the_point_estimate():
    scores, labels = _exit_scores(2000, np.random.default_rng(2))
    plain = cascade.choose_threshold(scores, labels, [None], max_accuracy_drop=0.02)
    safe = cascade.choose_threshold(scores, labels, [None], max_accuracy_drop=0.02, confidence=0.95)
    assert plain["met"] and safe["met"]
    assert plain["drop"] <= 0.02 and "drop_bound" not in plain
    assert safe["drop_bound"] <= 0.02 and safe["drop"] < safe["drop_bound"]
    assert safe["margin"] == pytest.approx(safe["drop_bound"] - safe["drop"])
    assert safe["threshold"] > plain["threshold"] and safe["exit_rates"][0] < plain["exit_rates"][0]
    # fixed-sequence: every threshold above the chosen one also keeps the bound
    final_correct = np.argmax(scores[-1], -1) == labels
    for t in (t for t in cascade.THRESHOLD_GRID if t >= safe["threshold"]):
        pred, _ = cascade.decide(scores, [t])
        assert margin.accuracy_drop_upper_bound(final_correct, pred == labels, 0.95) <= 0.02


def test_too_few_validation_images_cannot_meet_a_tight_bound():
    scores, labels = _exit_scores(40, np.random.default_rng(3))
    got = cascade.choose_threshold(scores, labels, [None], max_accuracy_drop=0.003, confidence=0.95)
    assert not got["met"] and got["threshold"] == max(cascade.THRESHOLD_GRID)


def test_the_drop_is_measured_against_the_reference_given():
    """Integer cascades are judged against the full model of their format (what the report
    compares with), whose answers differ a little from the cascade's own final head."""
    scores, labels = _exit_scores(2000, np.random.default_rng(4))
    own = cascade.choose_threshold(scores, labels, [None], max_accuracy_drop=0.02, confidence=0.95)
    reference = labels.copy()
    reference[:40] = (labels[:40] + 1) % 4  # the full model gets 2% wrong that the final head gets right
    full = cascade.choose_threshold(scores, labels, [None], 0.02, 0.95, reference_pred=reference)
    assert full["final_accuracy"] == pytest.approx(0.98) and own["final_accuracy"] == 1.0
    assert full["drop"] < own["drop"] and full["threshold"] <= own["threshold"]
