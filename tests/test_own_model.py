"""Bring your own model: model.path through every stage, pretrained backbone weights, Keras
application backbones, transfer learning, and a teacher named by its recipe."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from tflite_edge.errors import UserInputError

SHAPES = {"dataset": "shapes", "image_size": 16, "train_samples": 160, "test_samples": 64, "batch_size": 32}


def _user_classifier(classes=4, size=16, channels=3, outputs=1):
    """A classifier as a user writes it with plain tf_keras, outside the toolkit."""
    from tflite_edge import compat

    keras = compat.keras()
    L = keras.layers
    inp = keras.Input((size, size, channels))
    x = L.Conv2D(8, 3, strides=2, padding="same")(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    outs = [L.Dense(classes, activation="softmax", name=f"scores_{i}")(x) for i in range(outputs)]
    return keras.Model(inp, outs if outputs > 1 else outs[0])


def _recipe(tmp_path, **sections):
    from tflite_edge.recipe import validate_dict

    raw = {"name": "own", "data": SHAPES, "train": {"steps_per_epoch": 2, "tensorboard": False},
           "convert": {"formats": ["float32", "int8"], "calibration_samples": 16},
           "benchmark": {"runs": 2, "warmup": 1, "processes": 1, "warmup_min_s": 0}, **sections}
    return validate_dict(raw)


def test_a_users_model_goes_through_prune_qat_convert_and_report(tmp_path):
    from tflite_edge.run import run_recipe

    model = _user_classifier()
    path = tmp_path / "mine.h5"
    model.save(path)
    recipe = _recipe(tmp_path, model={"path": str(path)},
                     optimize=[{"prune": {"sparsity": 0.5, "epochs": 1}}, {"qat": {"epochs": 1}}])
    assert recipe.train.epochs == 0  # a loaded model is trained already
    rep = run_recipe(recipe, tmp_path / "run", log=lambda *a: None)
    src = rep["source_model"]
    assert src["path"] == str(path) and 0.0 <= src["accuracy"] <= 1.0
    assert src["params"] == model.count_params()
    assert {a["format"] for a in rep["artifacts"]} == {"float32", "int8"}
    assert all(a["accuracy"] is not None for a in rep["artifacts"])
    assert rep["optimize"][0]["sparsity"] > 0.3
    spec = json.loads((tmp_path / "run" / "input_spec.json").read_text())
    assert (spec["height"], spec["width"], spec["channels"]) == (16, 16, 3)
    assert "Your model" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.parametrize("kind, match", [
    ("classes", "the model has 3 classes, the dataset 4"),
    ("outputs", "2 output"),
    ("dynamic", "with H and W fixed"),
    ("corrupt", "not a loadable Keras model"),
])
def test_a_model_that_is_not_this_datas_classifier_is_refused(tmp_path, kind, match):
    from tflite_edge import compat
    from tflite_edge.run import run_recipe

    path = tmp_path / "bad.keras"
    if kind == "classes":
        _user_classifier(classes=3).save(path)
    elif kind == "outputs":
        _user_classifier(outputs=2).save(path)
    elif kind == "dynamic":
        keras = compat.keras()
        inp = keras.Input((None, None, 3))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
        keras.Model(inp, keras.layers.Dense(4)(x)).save(path)
    else:
        path.write_bytes(b"PK\x03\x04 not really a zip")
    recipe = _recipe(tmp_path, model={"path": str(path)})
    with pytest.raises(UserInputError, match=match) as e:
        run_recipe(recipe, tmp_path / "run", log=lambda *a: None)
    assert "\n" not in str(e.value) and str(e.value).startswith("model.path")
    assert not (tmp_path / "run" / "checkpoints" / "built.keras").exists()


def test_model_path_by_set_replaces_the_recipes_backbone(tmp_path):
    from tflite_edge.recipe import load_recipe, validate_dict

    path = tmp_path / "mine.keras"
    path.write_bytes(b"")  # validation does not open it
    r = load_recipe("recipes/quickstart.yaml", [f"model.path={path}"])
    assert r.model.path == str(path) and r.model.name is None and r.train.epochs == 15  # the recipe's own
    with pytest.raises(UserInputError, match="exactly one of `name`"):
        validate_dict({"name": "x", "data": SHAPES, "model": {"name": "plain_cnn", "path": str(path)}})
    with pytest.raises(UserInputError, match="'width' does not apply"):
        validate_dict({"name": "x", "data": SHAPES, "model": {"path": str(path), "width": 0.5}})
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "validate", "recipes/quickstart.yaml",
                           "--set", f"model.path={path}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_backbone_weights_load_by_layer_name_and_the_head_is_new(tmp_path):
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    spec_in = InputSpec(16, 16, 3)
    source = build_classifier(ModelSpec(name="plain_cnn"), spec_in, 10)
    path = tmp_path / "pretrained.keras"
    source.save(path)
    model = build_classifier(ModelSpec(name="plain_cnn", weights=str(path)), spec_in, 4)
    for name in ("conv0_conv", "conv3_bn"):
        want, got = source.get_layer(name).get_weights(), model.get_layer(name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(want, got))
    assert model.get_layer("logits").get_weights()[0].shape == (128, 4)  # a new head for 4 classes
    other = build_classifier(ModelSpec(name="mobilenet_v1", width=0.25), spec_in, 4)
    other.save(tmp_path / "other.keras")
    with pytest.raises(UserInputError, match="no layer .conv0_conv.*first backbone layer"):
        build_classifier(ModelSpec(name="plain_cnn", weights=str(tmp_path / "other.keras")), spec_in, 4)
    with pytest.raises(UserInputError, match="shape"):
        build_classifier(ModelSpec(name="plain_cnn", weights=str(path)), InputSpec(16, 16, 1), 4)


def test_keras_application_backbone_loads_its_own_weight_file(tmp_path):
    from tflite_edge import compat
    from tflite_edge.models import MODELS, build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    assert "keras_mobilenet_v2" in MODELS.names()
    keras = compat.keras()
    # the standard file's layout: an application without top, saved with save_weights (.h5)
    app = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    app.save_weights(tmp_path / "mobilenet_v2_0.35_no_top.h5")
    spec = ModelSpec(name="keras_mobilenet_v2", width=0.35, weights=str(tmp_path / "mobilenet_v2_0.35_no_top.h5"))
    model = build_classifier(spec, InputSpec(32, 32, 3), 4)
    assert np.array_equal(model.get_layer("Conv1").get_weights()[0], app.get_layer("Conv1").get_weights()[0])
    assert model.output_shape == (None, 4)
    ModelSpec(name="plain_cnn", weights="imagenet")  # validation passes; building refuses
    with pytest.raises(UserInputError, match="ImageNet weights"):
        build_classifier(ModelSpec(name="plain_cnn", weights="imagenet"), InputSpec(16, 16, 3), 4)


def test_transfer_learning_freezes_the_backbone_then_fine_tunes(tmp_path):
    from tflite_edge.run import run_recipe

    recipe = _recipe(tmp_path, model={"name": "plain_cnn"},
                     train={"epochs": 2, "freeze_backbone_epochs": 1, "steps_per_epoch": 2, "tensorboard": False},
                     convert={"formats": ["float32"]})
    logs = []
    run_recipe(recipe, tmp_path / "run", log=logs.append)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["train"]["outputs"]["epochs_run"] == 2
    assert any("backbone layers frozen for 1 epoch" in str(line) for line in logs)
    with pytest.raises(UserInputError, match="freeze_backbone_epochs"):
        _recipe(tmp_path, model={"name": "plain_cnn"}, train={"epochs": 1, "freeze_backbone_epochs": 2})


def test_a_teacher_named_by_its_recipe_is_trained_in_its_own_run_then_reused(tmp_path):
    from tflite_edge.recipe import load_recipe
    from tflite_edge.run import run_recipe

    teacher = {"name": "tiny_teacher", "data": SHAPES, "model": {"name": "plain_cnn"},
               "train": {"epochs": 1, "steps_per_epoch": 2, "tensorboard": False}}
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(teacher))
    student = {"name": "student", "data": SHAPES, "model": {"name": "plain_cnn", "width": 0.5},
               "teacher": {"sources": [{"recipe": str(tmp_path / "teacher.yaml")}]},
               "train": {"epochs": 1, "steps_per_epoch": 2, "tensorboard": False},
               "convert": {"formats": ["float32"]}, "benchmark": {"runs": 2, "warmup": 1, "processes": 1, "warmup_min_s": 0}}
    (tmp_path / "student.yaml").write_text(yaml.safe_dump(student))
    runs = tmp_path / "runs"
    rep = run_recipe(load_recipe(tmp_path / "student.yaml"), runs / "student", log=lambda *a: None)
    teacher_run = runs / "tiny_teacher"
    stages = json.loads((teacher_run / "manifest.json").read_text())["stages"]
    assert stages["train"]["done"] and "convert" not in stages  # up to train only
    assert rep["distillation"]["teachers"][0]["source"] == "recipe"
    before = (teacher_run / "checkpoints" / "trained.keras").stat().st_mtime_ns
    logs = []
    run_recipe(load_recipe(tmp_path / "student.yaml"), runs / "student", from_stage="train", log=logs.append)
    assert (teacher_run / "checkpoints" / "trained.keras").stat().st_mtime_ns == before  # resumed, not retrained
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump({**student, "name": "loop", "teacher": {
        "sources": [{"recipe": str(tmp_path / "loop.yaml")}]}}))
    with pytest.raises(UserInputError, match="teaches itself"):
        run_recipe(load_recipe(tmp_path / "loop.yaml"), runs / "loop", log=lambda *a: None)
