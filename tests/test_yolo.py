"""Tiny-YOLO on the shipped recipe's layout: targets turned into perfect outputs go through the
evaluation's decoding, NMS and COCO mAP and give back every object; each object trains several
responsible anchors; objectness starts at its prior, so the untrained loss is not all background.
(Before these, shapes_tiny_yolo reached mAP@.5 0.06: one positive among ~100 anchors per image.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tflite_edge.recipe import validate_dict

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "shapes_tiny_yolo.yaml"


def _recipe(**data):
    raw = yaml.safe_load(RECIPE.read_text())
    raw["data"].update({"train_samples": 8, "test_samples": 60, **data})
    return validate_dict(raw)


def _yolo(r):
    from tflite_edge.models.detection import DETECTORS

    return DETECTORS.get("tiny_yolo")(r.detector, r.data.image_size, 4)


def _perfect_outputs(box_t, cls_t):
    """The raw head outputs whose activations are exactly the targets (logit of the cell offsets)."""
    eps = 1e-6
    box = box_t[..., :4].copy()
    yx = np.clip(box_t[..., :2], eps, 1 - eps)
    box[..., :2] = np.log(yx / (1 - yx))
    scores = np.concatenate([cls_t[..., :1], cls_t[..., 2:]], -1)  # objectness, one-hot classes
    return box.astype(np.float32), np.where(scores > 0.5, 12.0, -12.0).astype(np.float32)


def test_perfect_outputs_decode_through_nms_to_map_one():
    from tflite_edge.data import load_dataset
    from tflite_edge.tasks.detection.metrics import coco_map
    from tflite_edge.tasks.detection.postprocess import detect

    r = _recipe()
    det, split = _yolo(r), load_dataset(r.data, r.seed).test
    anchors, found = det.anchors(), []
    for boxes, labels in zip(split.boxes, split.labels):
        box, logits = _perfect_outputs(*det.targets(anchors, boxes, labels))
        enc, scores = det.postprocess_inputs(box[None], logits[None])
        found.append(detect(np.asarray(enc)[0], np.asarray(scores)[0], anchors, det.scales, r.detector))
    m = coco_map(split, found, 4)
    assert m["map50"] == pytest.approx(1.0) and m["map"] > 0.99


def test_an_object_trains_every_well_fitting_prior_in_its_cell_and_keeps_its_best():
    from tflite_edge.models.detection.anchors import decode

    det = _yolo(_recipe())
    anchors, grid = det.anchors(), det._grid_per_anchor()
    box = np.array([[0.35, 0.35, 0.65, 0.65]], np.float32)  # 0.3 x 0.3: near 4 of the 6 priors
    box_t, cls_t = det.targets(anchors, box, np.array([1]))
    pos = np.nonzero(box_t[:, 4])[0]
    shape_iou = np.minimum(anchors[:, 2], 0.3) ** 2 / np.maximum(anchors[:, 2], 0.3) ** 2  # square priors
    cell = np.all(np.floor(0.5 * grid[:, None]) == np.round(anchors[:, :2] * grid[:, None] - 0.5), 1)
    assert len(pos) >= 2  # was 1: the best prior only

    from tflite_edge.models.detection.yolo import POSITIVE_SHAPE_IOU
    assert set(pos) == set(np.nonzero(cell & (shape_iou >= POSITIVE_SHAPE_IOU))[0])
    assert (cls_t[pos, 0] == 1).all() and (cls_t[pos, 3] == 1).all()
    out_box, logits = _perfect_outputs(box_t, cls_t)
    enc, _ = det.postprocess_inputs(out_box[None], logits[None])
    np.testing.assert_allclose(decode(np.asarray(enc)[0][pos], anchors[pos], det.scales),
                               np.repeat(box, len(pos), 0), atol=1e-4)

    # two objects in one stride-32 cell, each near the other's best prior: each keeps its own
    boxes = np.array([[0.27, 0.27, 0.63, 0.63], [0.29, 0.29, 0.81, 0.81]], np.float32)  # 0.36, 0.52
    box_t, cls_t = det.targets(anchors, boxes, np.array([0, 2]))
    on32 = grid == 3
    for g, size in enumerate([0.36, 0.52]):
        k = int(np.nonzero(on32 & cell & np.isclose(anchors[:, 2], size))[0][0])
        assert cls_t[k, 2 + [0, 2][g]] == 1 and box_t[k, 2] == pytest.approx(0.0, abs=1e-5)


def test_objectness_starts_at_its_prior_so_the_first_loss_is_not_all_background():
    from tflite_edge.data import load_dataset
    from tflite_edge.tasks.detection.model import build_detector
    from tflite_edge.tasks.detection.pipeline import batches
    from tflite_edge.models.classifier import InputSpec

    r = _recipe(train_samples=16)
    spec = InputSpec(96, 96, 3)
    model, det = build_detector(r, spec, 4), _yolo(r)
    images, (box_t, cls_t) = batches(load_dataset(r.data, r.seed).train, det, spec, 16, False)[0]
    _, logits = model(images, training=False)
    obj_logit = np.asarray(logits)[..., 0]
    assert 0.002 < (1 / (1 + np.exp(-obj_logit))).mean() < 0.05
    # the objectness loss of the background anchors (~100 per image) must not swamp the objects':
    # at objectness 0.5 it was ~50 times theirs, and the first steps only learnt "background"
    bce = np.logaddexp(0.0, obj_logit) - obj_logit * cls_t[..., 0]
    negatives = cls_t[..., 1] * (1 - cls_t[..., 0])
    assert (bce * negatives).sum() < (bce * cls_t[..., 0]).sum()
