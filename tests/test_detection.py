"""Detection: schema rules, loaders on golden annotations (and their bad-input errors), anchors and
box coding, targets, augmentation, NMS, mAP, and one tiny end-to-end run per detector."""
from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tflite_edge.data import DATASETS, load_dataset
from tflite_edge.errors import UserInputError
from tflite_edge.models.detection import DETECTORS
from tflite_edge.models.detection.anchors import decode, encode, grid_anchors, iou, match, to_corners
from tflite_edge.recipe import CocoData, VocData, validate_dict

DATA = Path(__file__).parent / "data" / "detection"

TINY_DET = {
    "name": "tinydet", "seed": 0, "task": "detection",
    "data": {"dataset": "shapes_detection", "image_size": 32, "train_samples": 48, "test_samples": 12,
             "batch_size": 16, "max_objects": 2},
    "model": {"name": "plain_cnn", "width": 0.25},
    "detector": {"name": "ssdlite", "feature_maps": ["stride_8"], "min_scale": 0.3, "max_scale": 0.6},
    "train": {"epochs": 1, "steps_per_epoch": 2, "tensorboard": False},
    "optimize": [{"qat": {"epochs": 1}}],
    "convert": {"formats": ["int8", "edgetpu"], "calibration_samples": 8},
    "benchmark": {"runs": 3, "warmup": 1, "warmup_min_s": 0.0, "processes": 1},
}


def _err(d) -> str:
    with pytest.raises(UserInputError) as e:
        validate_dict(d)
    return str(e.value)


# ---------------------------------------------------------------- schema
def test_detection_recipe_validates_and_cross_field_rules():
    d = {k: v for k, v in copy.deepcopy(TINY_DET).items() if k != "optimize"}
    assert validate_dict(d).detector.name == "ssdlite"
    assert "detector: required for task: detection" in _err({**d, "detector": None})
    assert "has no boxes" in _err({**d, "data": {"dataset": "shapes"}})
    assert "is a detection dataset; set task: detection" in _err({**d, "task": "classification", "detector": None})
    assert "detector: only for task: detection" in _err({**d, "task": "classification",
                                                          "data": {"dataset": "shapes"}})
    assert "did you mean 'ssdlite'" in _err({**d, "detector": {"name": "ssdlit"}})
    assert "detector.min_scale: does not apply to detector 'tiny_yolo'" in _err(
        {**d, "detector": {"name": "tiny_yolo", "min_scale": 0.2}})
    assert "priors for exactly the feature maps ['stride_16', 'stride_32']" in _err(
        {**d, "detector": {"name": "tiny_yolo", "anchors": {"stride_8": [[0.2, 0.2]]}}})
    assert "min_keras_map50 and max_map50_drop" in _err({**d, "evaluate": {"max_accuracy_drop": 0.01}})
    assert "int16x8 is not supported for detection" in _err({**d, "convert": {"formats": ["int16x8"]}})
    assert "data.max_objet: unknown key (did you mean 'max_objects'?)" in _err(
        {**d, "data": {**d["data"], "max_objet": 3}})


def test_saved_recipe_with_every_default_reloads():
    from tflite_edge.recipe import recipe_to_yaml

    import yaml

    for name in ("ssdlite", "tiny_yolo"):
        r = validate_dict({**copy.deepcopy(TINY_DET), "detector": {"name": name}})
        assert validate_dict(yaml.safe_load(recipe_to_yaml(r))) == r


def test_yolo_default_feature_maps_match_the_schema():
    from tflite_edge.models.detection.yolo import TinyYolo
    from tflite_edge.recipe import YOLO_DEFAULT_MAPS

    assert tuple(TinyYolo.default_feature_maps) == YOLO_DEFAULT_MAPS


def test_detection_datasets_are_registered_with_their_task():
    for name in ("shapes_detection", "voc", "coco"):
        assert DATASETS.meta(name)["task"] == "detection"
    assert set(DETECTORS.names()) == {"ssdlite", "tiny_yolo"}


# ---------------------------------------------------------------- data
def test_shapes_detection_is_deterministic_and_boxes_are_tight():
    spec = validate_dict(copy.deepcopy(TINY_DET)).data
    a, b = load_dataset(spec, 0), load_dataset(spec, 0)
    assert np.array_equal(a.train.images, b.train.images)
    assert all(np.array_equal(x, y) for x, y in zip(a.test.boxes, b.test.boxes))
    for img, boxes in zip(a.train.images, a.train.boxes):
        assert len(boxes) >= 1 and np.all((boxes >= 0) & (boxes <= 1)) and np.all(boxes[:, 2:] > boxes[:, :2])


def test_voc_golden():
    d = load_dataset(VocData.model_validate({"dataset": "voc", "path": str(DATA / "voc"), "test_fraction": 0.4}), 0)
    assert d.class_names == ["cat", "dog"]
    assert d.counts == {"objects_skipped_difficult": 1, "boxes_clipped_to_image": 1,
                        "images_without_objects": 1, "images_skipped_empty_file": 1}
    everything = {Path(p).name: (b, l, s) for split in (d.train, d.test)
                  for p, b, l, s in zip(split.images, split.boxes, split.labels, split.sizes)}
    boxes, labels, size = everything["img1.jpg"]
    assert size == (30, 40) and labels.tolist() == [0, 1]
    # VOC is 1-based inclusive: xmin 1..xmax 20 on 40 px is 0..0.5; the dog box is clipped at 40 px
    np.testing.assert_allclose(boxes, [[0, 0, 0.5, 0.5], [10 / 30, 0.5, 1.0, 1.0]], atol=1e-6)
    assert everything["img3.jpg"][2] == (36, 24)  # <size> 0x0: read from the file


def test_coco_golden_label_order_follows_category_id():
    spec = CocoData.model_validate({"dataset": "coco", "annotations": str(DATA / "coco" / "instances.json"),
                                    "images": str(DATA / "voc" / "JPEGImages"), "test_fraction": 0.4})
    d = load_dataset(spec, 0)
    assert d.class_names == ["dog", "cat"]
    assert d.counts["objects_skipped_crowd"] == 1 and d.counts["boxes_clipped_to_image"] == 1
    assert d.counts["images_skipped_empty_file"] == 1
    split = d.train if any("img1" in p for p in d.train.images) else d.test
    i = [k for k, p in enumerate(split.images) if p.endswith("img1.jpg")][0]
    assert split.labels[i].tolist() == [1, 0]
    np.testing.assert_allclose(split.boxes[i], [[0, 0, 0.5, 0.5], [10 / 30, 0.5, 1.0, 1.0]], atol=1e-6)


def _voc_with(tmp_path, xml_name):
    (tmp_path / "Annotations").mkdir()
    shutil.copy(DATA / "voc_bad" / xml_name, tmp_path / "Annotations")
    shutil.copytree(DATA / "voc" / "JPEGImages", tmp_path / "JPEGImages")
    return VocData.model_validate({"dataset": "voc", "path": str(tmp_path), "classes": ["cat", "dog"]})


@pytest.mark.parametrize("xml_name, expected", [
    ("malformed.xml", "malformed.xml:6: malformed XML (mismatched tag"),
    ("unknown_class.xml", "unknown_class.xml:9: unknown class 'dgo' (did you mean 'dog'?)"),
    ("bad_number.xml", "bad_number.xml:8: <ymin> is 'one', not a number"),
])
def test_voc_bad_input_names_file_and_line(tmp_path, xml_name, expected):
    with pytest.raises(UserInputError, match=re.escape(expected)):
        load_dataset(_voc_with(tmp_path, xml_name), 0)


def test_voc_unknown_class_can_be_skipped_and_counted(tmp_path):
    spec = _voc_with(tmp_path, "unknown_class.xml").model_copy(update={"unknown_classes": "skip",
                                                                        "test_fraction": 0.5})
    (tmp_path / "Annotations" / "copy.xml").write_text((tmp_path / "Annotations" / "unknown_class.xml").read_text())
    d = load_dataset(spec, 0)
    assert d.counts["objects_skipped_unknown_class:dgo"] == 2
    assert all(l.tolist() == [0] for l in d.train.labels + d.test.labels)


@pytest.mark.parametrize("name, expected", [
    ("malformed.json", "malformed.json:4: malformed JSON"),
    ("unknown_category.json", r"unknown_category.json: annotations\[0\] \(id 5\): category_id 99"),
])
def test_coco_bad_input_names_file_and_place(name, expected):
    spec = CocoData.model_validate({"dataset": "coco", "annotations": str(DATA / "coco" / name),
                                    "images": str(DATA / "voc" / "JPEGImages")})
    with pytest.raises(UserInputError, match=expected):
        load_dataset(spec, 0)


def test_missing_voc_folder_is_one_clear_error(tmp_path):
    with pytest.raises(UserInputError, match="Annotations not found"):
        load_dataset(VocData.model_validate({"dataset": "voc", "path": str(tmp_path)}), 0)


# ---------------------------------------------------------------- anchors, coding, matching
box_strategy = st.tuples(st.floats(0.0, 0.7), st.floats(0.0, 0.7), st.floats(0.05, 0.3), st.floats(0.05, 0.3))


@settings(max_examples=50, deadline=None)
@given(st.lists(box_strategy, min_size=1, max_size=5))
def test_encode_decode_roundtrip_and_every_object_gets_an_anchor(raw):
    boxes = np.array([[y, x, y + h, x + w] for y, x, h, w in raw], np.float32)
    anchors = np.concatenate([grid_anchors(4, [(0.25, 0.25), (0.5, 0.25)]), grid_anchors(2, [(0.6, 0.6)])])
    assigned = match(boxes, np.zeros(len(boxes), np.int64), anchors, 0.5)
    best = iou(to_corners(anchors), boxes).argmax(0)
    unique = [g for g in range(len(boxes)) if list(best).count(best[g]) == 1]  # shared best anchors: one wins
    assert set(unique) <= set(assigned[assigned >= 0].tolist())
    pos = assigned >= 0
    enc = encode(boxes[assigned[pos]], anchors[pos])
    np.testing.assert_allclose(decode(enc, anchors[pos]), boxes[assigned[pos]], atol=1e-5)


def test_iou_basics():
    a = np.array([[0, 0, 0.5, 0.5]], np.float32)
    assert iou(a, a)[0, 0] == pytest.approx(1.0)
    assert iou(a, np.array([[0.5, 0.5, 1, 1]], np.float32))[0, 0] == 0.0
    np.testing.assert_allclose(to_corners(np.array([[0.5, 0.5, 0.2, 0.4]])), [[0.4, 0.3, 0.6, 0.7]])


def _detector(name, **extra):
    from tflite_edge.models.classifier import InputSpec

    r = validate_dict({**copy.deepcopy(TINY_DET), "model": {"name": "mobilenet_v2", "width": 0.35},
                       "detector": {"name": name, **extra}})
    return r, DETECTORS.get(name)(r.detector, 96, 4), InputSpec(96, 96, 3)


def test_yolo_targets_decode_back_to_the_boxes_like_the_postprocess_op():
    """YOLO offsets go through postprocess_inputs into SSD-style encodings; decoding those the way
    TFLite_Detection_PostProcess does must give back the object boxes."""
    _, det, _ = _detector("tiny_yolo")
    anchors = det.anchors()
    boxes = np.array([[0.1, 0.1, 0.3, 0.25], [0.5, 0.4, 0.95, 0.9]], np.float32)
    box_t, cls_t = det.targets(anchors, boxes, np.array([2, 0]))
    pos = np.nonzero(box_t[:, 4])[0]
    assert len(pos) >= 2 and (cls_t[pos, 0] == 1).all()  # each object: its best prior, maybe more
    eps = 1e-6
    raw = np.zeros((1, len(anchors), 4), np.float32)
    yx = np.clip(box_t[:, :2], eps, 1 - eps)
    raw[0, :, :2] = np.log(yx / (1 - yx))  # logit: the model's sigmoid gives the target back
    raw[0, :, 2:] = box_t[:, 2:4]
    logits = np.zeros((1, len(anchors), 5), np.float32)
    enc, scores = det.postprocess_inputs(raw, logits)
    got = decode(np.asarray(enc)[0][pos], anchors[pos], det.scales)
    label = cls_t[pos, 2:].argmax(1)
    assert set(label.tolist()) == {0, 2}
    np.testing.assert_allclose(got, boxes[np.where(label == 2, 0, 1)], atol=1e-4)  # its object's box
    assert np.asarray(scores).shape == (1, len(anchors), 5)


def test_ssd_targets_mark_positives_with_class_plus_one():
    _, det, _ = _detector("ssdlite", min_scale=0.15, max_scale=0.6)
    anchors = det.anchors()
    box_t, cls_t = det.targets(anchors, np.array([[0.2, 0.2, 0.5, 0.5]], np.float32), np.array([3]))
    pos = box_t[:, 4] == 1
    assert pos.any() and set(cls_t[pos, 0].tolist()) == {4.0} and set(cls_t[~pos, 0].tolist()) == {0.0}


# ---------------------------------------------------------------- augmentation, NMS, mAP
def test_box_aware_flip_and_translate_move_boxes_with_pixels():
    from tflite_edge.tasks.detection.pipeline import flip, translate

    img = np.zeros((20, 20, 3), np.uint8)
    img[2:6, 3:9] = 255
    boxes = np.array([[0.1, 0.15, 0.3, 0.45]], np.float32)
    f_img, (f_boxes,) = flip(img[None], [boxes])
    ys, xs = np.nonzero(f_img[0, :, :, 0])
    np.testing.assert_allclose(f_boxes[0], [ys.min() / 20, xs.min() / 20, (ys.max() + 1) / 20, (xs.max() + 1) / 20])
    t_img, t_boxes, t_labels = translate(img, boxes, np.array([1]), 3, -2)
    ys, xs = np.nonzero(t_img[:, :, 0])
    np.testing.assert_allclose(t_boxes[0], [ys.min() / 20, xs.min() / 20, (ys.max() + 1) / 20, (xs.max() + 1) / 20])
    _, gone, gone_labels = translate(img, boxes, np.array([1]), 0, -8)  # pushed mostly out of view
    assert len(gone) == 0 and len(gone_labels) == 0


def test_python_postprocess_keeps_best_and_suppresses_overlaps():
    from tflite_edge.tasks.detection.postprocess import detect

    anchors = np.array([[0.3, 0.3, 0.2, 0.2], [0.31, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]], np.float32)
    scores = np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.3, 0.0, 0.7]], np.float32)

    class Spec:
        score_threshold, nms_iou, max_detections = 0.05, 0.5, 10

    boxes, classes, kept = detect(np.zeros((3, 4), np.float32), scores, anchors, (10, 10, 5, 5), Spec)
    assert classes.tolist() == [0, 1] and kept.tolist() == pytest.approx([0.9, 0.7])


def test_coco_map_perfect_and_empty():
    from tflite_edge.data.detection import DetectionSplit
    from tflite_edge.tasks.detection.metrics import coco_map

    boxes = [np.array([[0.1, 0.1, 0.5, 0.5]], np.float32), np.array([[0.2, 0.3, 0.9, 0.8]], np.float32)]
    labels = [np.array([0]), np.array([1])]
    split = DetectionSplit(["a", "b"], boxes, labels, [(100, 100), (50, 80)])
    perfect = [(b, l, np.ones(1)) for b, l in zip(boxes, labels)]
    assert coco_map(split, perfect, 2) == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0)}
    none = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0))] * 2
    assert coco_map(split, none, 2) == {"map": 0.0, "map50": 0.0}


# ---------------------------------------------------------------- end to end (TensorFlow)
BUILTIN_INT8_OK = {"CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "SOFTMAX", "CONCATENATION", "QUANTIZE",
                   "DEQUANTIZE", "ADD", "LOGISTIC", "MUL", "SUB"}


@pytest.fixture(scope="module")
def det_run(tmp_path_factory):
    from tflite_edge.run import run_recipe

    run_dir = tmp_path_factory.mktemp("runs") / "tinydet"
    report = run_recipe(validate_dict(copy.deepcopy(TINY_DET)), run_dir, log=lambda *a: None)
    return run_dir, report


def test_tiny_ssdlite_qat_run_reports_map_for_keras_and_every_artifact(det_run):
    run_dir, rep = det_run
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk["task"] == "detection" and 0.0 <= rep["keras"]["map50"] <= 1.0 and "map" in rep["keras"]
    by_name = {a["name"]: a for a in rep["artifacts"]}
    # the Edge TPU-ready artifact is not named like a compiled one (Coral's NAME_edgetpu.tflite)
    assert set(by_name) == {f"tinydet_{f}{v}" for f in ("int8", "edgetpu_ready") for v in ("", "_raw")}
    for a in rep["artifacts"]:
        assert a["accuracy"] is None and 0.0 <= a["map"] <= a["map50"] <= 1.0
    # the real postprocess op and the Python decoding of the raw variant score alike
    for fmt in ("int8", "edgetpu_ready"):
        assert abs(by_name[f"tinydet_{fmt}"]["map50"] - by_name[f"tinydet_{fmt}_raw"]["map50"]) < 0.02
    qat = rep["optimize"][0]  # QAT through the whole detector (backbone and heads), measured in mAP
    assert qat["name"] == "qat" and qat["accuracy"] is None and 0.0 <= qat["map50"] <= 1.0
    assert qat["range_warmup"]["ranges"] > 0  # measured on the detection calibration images
    assert "mAP@.5" in (run_dir / "report.md").read_text()


def test_int8_export_has_builtin_ops_plus_the_postprocess_op_only(det_run):
    _, rep = det_run
    by_name = {a["name"]: a for a in rep["artifacts"]}
    pp, raw = by_name["tinydet_int8"], by_name["tinydet_int8_raw"]
    assert "TFLite_Detection_PostProcess" in pp["ops"]
    assert set(pp["ops"]) - {"TFLite_Detection_PostProcess"} <= BUILTIN_INT8_OK
    assert set(raw["ops"]) <= BUILTIN_INT8_OK - {"SOFTMAX"}  # scores are made on the host
    assert set(raw["output_order"]) == {"box_encodings", "class_logits"}
    assert sorted(pp["output_order"]) == ["detection_boxes", "detection_classes", "detection_scores",
                                          "num_detections"]


def test_edgetpu_raw_variant_maps_every_op_to_the_tpu(det_run):
    _, rep = det_run  # the run would have failed its default edgetpu_max_cpu_ops: 0 gate otherwise
    check = {a["name"]: a for a in rep["artifacts"]}["tinydet_edgetpu_ready_raw"]["edgetpu_check"]
    assert check["on_cpu"] == 0 and check["verdict"] != "not_compilable"


def test_tiny_yolo_through_the_real_postprocess_op_matches_python_decoding(tmp_path):
    """The op decodes YOLO's converted encodings exactly as the Python postprocess does."""
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge.data.detection import DetectionSplit
    from tflite_edge.tasks.detection.evaluate import keras_detections, tflite_detections
    from tflite_edge.tasks.detection.export import convert_detector
    from tflite_edge.tasks.detection.model import build_detector, detector_for
    from tflite_edge.models.classifier import InputSpec

    r = validate_dict({**copy.deepcopy(TINY_DET), "detector": {
        "name": "tiny_yolo", "feature_maps": ["stride_8"], "anchors": {"stride_8": [[0.3, 0.3], [0.5, 0.4]]},
        "score_threshold": 0.2}})
    spec = InputSpec(32, 32, 3)
    model, det = build_detector(r, spec, 4), detector_for(r, spec, 4)
    cls_out = model.get_layer("stride_8_cls_out")  # objectness from 0.5, not its 0.01 prior: scores
    cls_out.bias.assign(np.zeros(cls_out.bias.shape, np.float32))  # above the threshold to compare
    path = tmp_path / "yolo.tflite"
    path.write_bytes(convert_detector(model, det, r.detector, spec, 4, "float32", None, True))
    assert "TFLite_Detection_PostProcess" in {o["op_name"] for o in Interpreter(str(path))._get_ops_details()}
    rng = np.random.default_rng(0)
    split = DetectionSplit(rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), [np.zeros((0, 4))] * 3,
                           [np.zeros(0, np.int64)] * 3, [(32, 32)] * 3)
    ours = keras_detections(model, det, split, spec, r.detector)
    theirs = tflite_detections(path, "postprocess", det, split, spec, r.detector)
    for (b1, c1, s1), (b2, c2, s2) in zip(ours, theirs):
        assert len(s1) == len(s2) > 0
        np.testing.assert_allclose(s1, s2, atol=1e-4)
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_allclose(b1, b2, atol=1e-4)


def test_test_split_without_objects_is_refused_before_training(tmp_path):
    from tflite_edge.run import run_recipe

    d = {**copy.deepcopy(TINY_DET), "data": {"dataset": "voc", "path": str(DATA / "voc"), "test_fraction": 0.4},
         "model": {"name": "plain_cnn", "width": 0.25, "input_size": 32}}
    d.pop("optimize")
    with pytest.raises(UserInputError, match="test split .* has no objects, so mAP is undefined"):
        run_recipe(validate_dict(d), tmp_path / "run", log=lambda *a: None)  # seed 0 puts img3 alone in test
