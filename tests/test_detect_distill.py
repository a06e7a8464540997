"""Distillation for detectors: the loss terms, the teacher/student layout checks, one tiny run."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from tflite_edge.errors import UserInputError
from tflite_edge.recipe import recipe_to_yaml, validate_dict

from test_detection import TINY_DET


def _det(**extra) -> dict:
    d = {k: v for k, v in copy.deepcopy(TINY_DET).items() if k != "optimize"}
    d.update(extra)
    return d


def _err(d) -> str:
    with pytest.raises(UserInputError) as e:
        validate_dict(d)
    assert "\n" not in str(e.value)
    return str(e.value)


# ---------------------------------------------------------------- the loss
@pytest.mark.parametrize("kind", ["ssdlite", "tiny_yolo"])
def test_distill_terms_zero_when_equal_positive_when_not_and_box_only_on_teacher_foreground(kind):
    from tflite_edge.tasks.detection.distill import distill_terms

    rng = np.random.default_rng(0)
    n, k = 6, 4
    box = rng.normal(size=(2, n, 4)).astype(np.float32)
    cls = rng.normal(size=(2, n, k)).astype(np.float32)
    c, b = distill_terms(kind, box, cls, box, cls, 4.0)
    assert abs(float(c)) < 1e-5 and abs(float(b)) < 1e-6

    other = rng.normal(size=cls.shape).astype(np.float32)
    c, b = distill_terms(kind, box + 0.5, other, box, cls, 4.0)
    assert float(c) > 1e-3 and float(b) > 1e-3

    # the teacher sees background on anchors 3.. (SSD: column 0; YOLO: objectness) and an object on 0..2
    t_cls = np.full((2, n, k), -20.0, np.float32)
    t_cls[:, :3, 1] = 20.0
    t_cls[:, 3:, 0] = 20.0 if kind == "ssdlite" else -20.0
    if kind == "tiny_yolo":
        t_cls[:, :3, 0] = 20.0
    s_box = box.copy()
    s_box[:, 3:] += 5.0  # wrong boxes where the teacher sees nothing: ignored
    _, b = distill_terms(kind, s_box, t_cls, box, t_cls, 4.0)
    assert float(b) < 1e-6
    s_box[:, 0] += 5.0  # wrong boxes where it sees an object: counted
    _, b = distill_terms(kind, s_box, t_cls, box, t_cls, 4.0)
    assert float(b) > 1.0


# ---------------------------------------------------------------- layout checks
def test_teacher_with_other_anchors_or_detector_is_refused_in_one_line():
    ok = _det(teacher={"sources": [{"model": {"name": "plain_cnn", "width": 0.5},
                                    "detector": {"name": "ssdlite", "feature_maps": ["stride_8"],
                                                 "min_scale": 0.3, "max_scale": 0.6, "head_channels": 32}}],
                       "box_weight": 2.0})
    r = validate_dict(ok)
    assert r.teacher.box_weight == 2.0  # a different head, the same anchors
    assert validate_dict(yaml.safe_load(recipe_to_yaml(r))) == r  # the run's recipe.yaml reloads
    msg = _err(_det(teacher={"sources": [{"model": {"name": "plain_cnn"}, "detector": {
        "name": "ssdlite", "feature_maps": ["stride_8", "stride_16"], "min_scale": 0.3, "max_scale": 0.6}}]}))
    assert "teacher.sources[0].detector: the teacher's anchors differ" in msg
    assert "box_encodings (B, 80, 4) vs (B, 64, 4)" in msg and "input size" in msg
    assert "cannot teach a 'ssdlite' student" in _err(_det(teacher={"sources": [
        {"model": {"name": "plain_cnn"}, "detector": {"name": "tiny_yolo"}}]}))
    assert "teacher.sources[0].model.input_size: the teacher takes 64 px, the student 32 px" in _err(
        _det(teacher={"sources": [{"model": {"name": "plain_cnn", "input_size": 64}}]}))
    assert "teacher.box_weight: only for task: detection" in _err(
        {"name": "c", "data": {"dataset": "shapes"}, "model": {"name": "plain_cnn"},
         "teacher": {"sources": [{"model": {"name": "plain_cnn"}}], "box_weight": 2.0}})


def test_saved_teacher_with_other_classes_is_refused_in_one_line():
    from tflite_edge.tasks.detection.distill import check_teacher
    from tflite_edge.tasks.detection.model import build_detector
    from tflite_edge.models.classifier import InputSpec

    r = validate_dict(_det())
    spec = InputSpec(32, 32, 3)

    class Ctx:  # the parts of RunContext the check reads
        recipe, input_spec = r, spec

    check_teacher(build_detector(r, spec, 4), "t", Ctx(), 4)
    with pytest.raises(UserInputError, match=r"t: the teacher outputs \[\(None, 64, 4\), \(None, 64, 4\)\], "
                                             r"the student \[\(None, 64, 4\), \(None, 64, 5\)\]") as e:
        check_teacher(build_detector(r, spec, 3), "t", Ctx(), 4)
    assert "\n" not in str(e.value)
    yolo = validate_dict(_det(detector={"name": "tiny_yolo", "feature_maps": ["stride_8"],
                                        "anchors": {"stride_8": [[0.3, 0.3], [0.5, 0.5], [0.4, 0.4], [0.6, 0.6]]}}))
    with pytest.raises(UserInputError, match="a 'tiny_yolo' teacher cannot teach a 'ssdlite' student"):
        check_teacher(build_detector(yolo, spec, 4), "t", Ctx(), 4)  # same shapes, other meaning


# ---------------------------------------------------------------- end to end
def test_tiny_distilled_detection_run_reports_the_teacher(tmp_path, capsys):
    from tflite_edge.run import run_recipe

    d = _det(teacher={"sources": [{"model": {"name": "plain_cnn", "width": 0.5}, "epochs": 1}]},
             optimize=[{"prune": {"sparsity": 0.5, "epochs": 1}}], convert={"formats": ["float32"]})
    logs = []
    rep = run_recipe(validate_dict(d), tmp_path / "run", log=logs.append)
    kd = rep["distillation"]
    assert kd["temperature"] == 4.0 and kd["box_weight"] == 1.0
    (t,) = kd["teachers"]
    assert t["source"] == "trained_in_run" and t["width"] == 0.5 and 0.0 <= t["map"] <= t["map50"] <= 1.0
    assert (tmp_path / "run" / "checkpoints" / "teacher_0.keras").exists()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    history = manifest["stages"]["train"]["outputs"]["history"]
    assert {"det_loss", "kd_cls_loss", "kd_box_loss", "val_loss"} <= set(history)
    assert "Distilled (T 4, alpha 0.1, beta 0.9, box_weight 1) from:" in (tmp_path / "run" / "report.md").read_text()
    assert rep["optimize"][0]["name"] == "prune" and rep["optimize"][0]["sparsity"] > 0.3
    epochs = [line for line in capsys.readouterr().out.splitlines() if " epoch 1/1 " in line]
    assert [line.split()[0] for line in epochs] == ["teacher_0", "train", "optimize_0_prune"]
    assert "kd_box_loss" not in epochs[0] and all("kd_box_loss" in line for line in epochs[1:])


def test_schema_anchor_defaults_match_the_detectors():
    from tflite_edge.models.detection.ssd import SsdLite
    from tflite_edge.models.detection.yolo import TinyYolo
    from tflite_edge.recipe import SSD_DEFAULT_MAPS, YOLO_DEFAULT_MAPS

    assert (tuple(SsdLite.default_feature_maps), tuple(TinyYolo.default_feature_maps)) == \
        (SSD_DEFAULT_MAPS, YOLO_DEFAULT_MAPS)
