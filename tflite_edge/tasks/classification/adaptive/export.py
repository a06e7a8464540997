"""The cascade artifacts: per format, one TFLite model per segment and the cascade.json an app
follows, with thresholds chosen here on the validation split (or the recipe's own).

Layout, per format: artifacts/NAME_FORMAT_cascade/{segment0.tflite, segment1.tflite, ...,
cascade.json}. Segment k > 0 is calibrated (full-integer formats) on the feature maps the float
model gives for the calibration images at its cut, which is what it will see.
"""
from __future__ import annotations

from typing import List

import numpy as np

from .... import atomic
from ....errors import UserInputError
from ....export import convert_formats, write_artifact
from . import cascade
from .exits import segment_models
from .runner import CASCADE_FILE, FEATURES, SCORES, Cascade


def _features_at_cuts(segments, images: np.ndarray, batch: int = 64) -> List[np.ndarray]:
    """The input of every segment for `images`: the images, then each cut's float feature map."""
    inputs = [images]
    x = images
    for seg in segments[:-1]:
        x = np.concatenate([seg(x[i:i + batch], training=False)[1].numpy() for i in range(0, len(x), batch)])
        inputs.append(x)
    return inputs


def validation_split(ctx):
    """(images, labels) of the validation split the fit held out: thresholds are chosen on it."""
    from ....data.pipeline import held_out, numpy_batches

    d = ctx.dataset
    val = held_out(d, ctx.recipe)
    if val is None:
        raise UserInputError("adaptive.threshold: auto needs a validation split (data.validation_fraction > 0 "
                             "and at least 10 training images); give thresholds by hand or more data")
    return list(numpy_batches(val[0], d, ctx.input_spec)), np.asarray(val[1])


def choose(spec, scores, labels, reference_pred=None) -> dict:
    """Thresholds for the `adaptive:` spec: its own, or auto's lowest that keeps the accuracy drop
    of these `scores` against the full model (`reference_pred`, else the final head) within
    max_accuracy_drop, with the margin of `drop_confidence`."""
    fixed = spec.fixed_thresholds()
    if not spec.needs_validation:
        return {"thresholds": fixed, "chosen": "recipe"}
    pick = cascade.choose_threshold(scores, labels, fixed, spec.max_accuracy_drop, spec.drop_confidence,
                                    reference_pred)
    return {"thresholds": cascade.thresholds_for(fixed, pick["threshold"]), "chosen": "auto",
            "validation": {**pick, "max_accuracy_drop": spec.max_accuracy_drop,
                           "reference": "final_head" if reference_pred is None else "full_model"}}


def describe(ctx, fmt: str, segments: List[dict]) -> dict:
    """cascade.json without thresholds: what an app needs to run the segments in order."""
    spec, last = ctx.input_spec, len(segments) - 1
    return {"format": fmt, "name": ctx.recipe.name,
            "rule": "run segments in order; stop at the first exit whose top probs score >= its threshold; "
                    "the last segment always answers",
            "input": {"height": spec.height, "width": spec.width, "channels": spec.channels, "mean": spec.mean,
                      "std": spec.std, "normalisation": "(pixel - mean) / std, pixels 0..255"},
            "labels": ctx.path("labels.txt").read_text().splitlines(),
            "segments": [{"path": s["path"].rsplit("/", 1)[1], "input": "image" if s["segment"] == 0 else FEATURES,
                          "outputs": [SCORES, FEATURES] if s["segment"] < last else [SCORES],
                          "size_bytes": s["size_bytes"]} for s in segments]}


def export_cascades(ctx, model, formats, calibration) -> List[dict]:
    """Write every format's cascade; returns its segments as artifact dicts (the benchmark stage
    times them) each with `cascade` (its cascade.json) and `segment` (its index)."""
    segments = segment_models(model)
    cal_inputs = _features_at_cuts(segments, calibration) if calibration is not None else [None] * len(segments)
    out: dict = {fmt: [] for fmt in formats}
    for k, (seg, cal) in enumerate(zip(segments, cal_inputs)):
        outputs = [SCORES, FEATURES] if k < len(segments) - 1 else [SCORES]
        for fmt, data in convert_formats(seg, formats, cal, input_name="image" if k == 0 else FEATURES,
                                         output_names=outputs):
            folder = f"artifacts/{ctx.recipe.name}_{fmt}_cascade"
            rel = f"{folder}/segment{k}.tflite"
            info = write_artifact(data, ctx.path(rel), fmt)
            out[fmt].append({"name": f"{ctx.recipe.name}_{fmt}_segment{k}", "path": rel, "segment": k,
                             "cascade": f"{folder}/{CASCADE_FILE}", **info})
    adaptive = ctx.recipe.adaptive
    val = validation_split(ctx) if adaptive.needs_validation else None
    for fmt, segs in out.items():
        spec = describe(ctx, fmt, segs)
        folder = ctx.path(segs[0]["cascade"]).parent
        # each format's own scores choose its thresholds: int8 confidences are not float32's
        chosen = (choose(adaptive, _scores_of(folder, spec, val[0]), val[1], _full_model_pred(ctx, fmt, val[0]))
                  if val else choose(adaptive, None, None))
        for entry, t in zip(spec["segments"], chosen["thresholds"]):
            entry["threshold"] = float(t)
        spec["thresholds"] = {k: v for k, v in chosen.items() if k != "thresholds"}
        atomic.write_json(folder / CASCADE_FILE, spec)  # last: a cascade.json means a complete cascade
        text = f"thresholds {', '.join(f'{t:.3f}' for t in chosen['thresholds'])} ({chosen['chosen']})"
        ctx.log(f"  {segs[0]['cascade']}: {len(segs)} segments, "
                f"{sum(s['size_bytes'] for s in segs):,} bytes, {text}")
    return [s for segs in out.values() for s in segs]


def _full_model_pred(ctx, fmt: str, batches):
    """The full-model artifact of `fmt` on `batches` (what evaluate compares the cascade with), or None
    when there is none. Its segments are quantized apart from it, so its answers differ a little
    from the cascade's own final head's (int8 on Fashion-MNIST: ~2% of the images)."""
    from ....runtime import make_interpreter, predict_classes  # as evaluate scores artifacts

    path = ctx.path(f"artifacts/{ctx.recipe.name}_{fmt}.tflite")
    if not path.is_file():
        return None
    interp, _ = make_interpreter(str(path), 2)
    return predict_classes(interp, batches, str(path), 2)


def _scores_of(folder, spec: dict, batches) -> List[np.ndarray]:
    """Scores of every exit for `batches`, from the segments just written (thresholds not yet)."""
    from .runner import Segment

    return Cascade(spec, [Segment.open(folder / s["path"]) for s in spec["segments"]]).all_scores(batches)
