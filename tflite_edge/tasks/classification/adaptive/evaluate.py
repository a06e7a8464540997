"""Stage `evaluate` for an adaptive model: every cascade on the whole test split, beside the full
model of the same format; and the Keras model's own cascade (thresholds chosen the same way)."""
from __future__ import annotations

from collections import OrderedDict
from typing import List

import numpy as np

from . import cascade
from .runner import Cascade


def keras_scores(model, batches) -> List[np.ndarray]:
    """Every output of the adaptive Keras model (exits, then the final head) for every image."""
    outs: List[list] = []
    for b in batches:
        got = model(b, training=False)
        got = got if isinstance(got, (list, tuple)) else [got]
        if not outs:
            outs = [[] for _ in got]
        for acc, o in zip(outs, got):
            acc.append(o.numpy())
    return [np.concatenate(o) for o in outs]


def _row(scores, labels, thresholds, fixed, full_pred) -> dict:
    pred, exit_at = cascade.decide(scores, thresholds)
    n_exits = len(scores) - 1
    full_acc = float(np.mean(full_pred == labels))
    acc = float(np.mean(pred == labels))
    return {"thresholds": [float(t) for t in thresholds], "accuracy": acc, "full_accuracy": full_acc,
            "accuracy_drop": full_acc - acc, "agreement_with_full": float(np.mean(pred == full_pred)),
            "exit_rates": cascade.exit_rates(exit_at, n_exits),
            "exit_counts": [int(np.sum(exit_at == k)) for k in range(n_exits + 1)],
            "exit_accuracy": [float(np.mean(np.argmax(s, -1) == labels)) for s in scores[:-1]],
            "sweep": [{k: v for k, v in row.items() if k != "thresholds"}
                      for row in cascade.sweep(scores, labels, fixed)]}


def evaluate_cascades(ctx, model, test_batches, labels, full_preds: dict, k_scores) -> List[dict]:
    """One row per cascade (Keras first): accuracy, exit rates and the threshold sweep on test.
    `k_scores`: the Keras model's `keras_scores` on the test split."""
    from .export import choose, validation_split

    a = ctx.recipe.adaptive
    fixed = a.fixed_thresholds()
    labels = np.asarray(labels)
    rows = []
    if a.needs_validation:  # the Keras model's thresholds are chosen as each format's are
        val_batches, val_labels = validation_split(ctx)
        chosen = choose(a, keras_scores(model, val_batches), val_labels)
    else:
        chosen = choose(a, None, None)
    keras_pred = np.argmax(k_scores[-1], axis=-1)
    rows.append({"format": "keras", **_row(k_scores, labels, chosen["thresholds"], fixed, keras_pred),
                 **_validation(chosen)})
    ctx.log(_line("keras", rows[-1]))
    files = OrderedDict()
    for seg in ctx.outputs("convert").get("segments", []):
        files.setdefault(seg["cascade"], []).append(seg)
    for rel, segs in files.items():
        c = Cascade.open(ctx.path(rel))
        fmt = c.spec["format"]
        full_pred = full_preds.get(fmt)
        scores = c.all_scores(test_batches())
        if full_pred is None:  # no full artifact of this format scored (cannot happen in a run)
            full_pred = np.argmax(scores[-1], axis=-1)
        rows.append({"format": fmt, "cascade": rel, "segments": [s["name"] for s in segs],
                     **_row(scores, labels, c.thresholds, fixed, full_pred), **_validation(c.spec["thresholds"])})
        ctx.log(_line(fmt, rows[-1]))
    return rows


def _validation(chosen: dict) -> dict:
    """How auto chose (validation drop, its bound and margin), for the report; {} for fixed ones."""
    v = chosen.get("validation")
    return {"validation": {k: v[k] for k in ("samples", "drop", "drop_bound", "margin", "confidence", "met",
                                             "reference")
                           if k in v}} if v else {}


def _line(fmt: str, row: dict) -> str:
    rates = " / ".join(f"{r:.0%}" for r in row["exit_rates"])
    return (f"  cascade {fmt}: accuracy {row['accuracy']:.4f} (full model {row['full_accuracy']:.4f}), "
            f"exits {rates}")
