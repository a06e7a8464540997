"""`model.backbone: FILE`: a Keras model built outside the toolkit, its layers named as Keras names
them (conv2d, dense, ...), as the backbone of a new classifier and of a detector."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tflite_edge import compat
from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """A 5-class classifier on 32 px with generic layer names and its own Rescaling."""
    k = compat.keras()
    k.backend.clear_session()  # Keras' default names (conv2d, conv2d_1, ...) from a fresh counter
    i = k.Input((32, 32, 3))
    x = k.layers.Rescaling(1 / 255.0)(i)
    for filters in (8, 16, 16, 32, 32):  # strides 2 .. 32
        x = k.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(i, k.layers.Dense(5, activation="softmax")(x))
    path = tmp_path_factory.mktemp("foreign") / "theirs.keras"
    model.save(path)
    return path, model


def _recipe(path, **extra):
    return validate_dict({"name": "own", "seed": 0,
                          "data": {"dataset": "shapes", "image_size": 32, "train_samples": 64, "test_samples": 32,
                                   "batch_size": 16},
                          "model": {"backbone": str(path)}, **extra})


def test_new_classifier_head_on_a_foreign_model(foreign):
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec, normalisation

    path, source = foreign
    r = _recipe(path)
    assert r.model.name == "keras_file" and normalisation(r.model) == {"mean": 0.0, "std": 1.0}  # its Rescaling
    model = build_classifier(r.model, InputSpec(32, 32, 3, **normalisation(r.model)), 4)
    assert model.output_shape == (None, 4)
    names = [layer.name for layer in model.layers]
    assert "backbone_dense" not in names and "logits" in names  # its head dropped, ours on
    last_conv = [layer for layer in source.layers if layer.__class__.__name__ == "Conv2D"][-1]
    kept = model.get_layer("backbone_" + last_conv.name).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(kept, last_conv.get_weights()))  # its weights kept
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.float32)
    cut = compat.keras().Model(source.input, last_conv.output)
    ours = compat.keras().Model(model.input, model.get_layer("backbone_" + last_conv.name).output)
    np.testing.assert_allclose(ours.predict(x, verbose=0), cut.predict(x, verbose=0), atol=1e-5)


def test_detector_on_a_foreign_model_finds_maps_by_stride(foreign):
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.tasks.detection.model import build_detector

    path, _ = foreign
    r = validate_dict({"name": "det", "task": "detection", "data": {"dataset": "shapes_detection", "image_size": 64},
                       "model": {"backbone": str(path)}, "detector": {"name": "ssdlite"}})
    model = build_detector(r, InputSpec(64, 64, 3), 3)
    boxes, logits = model.outputs
    assert boxes.shape[-1] == 4 and logits.shape[-1] == 4 and boxes.shape[1] == logits.shape[1]


def test_channel_mismatch_and_missing_file_are_named(foreign, tmp_path):
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe.preflight import check_paths

    path, _ = foreign
    with pytest.raises(UserInputError, match="takes 3 channel"):
        build_classifier(_recipe(path).model, InputSpec(32, 32, 1), 4)
    with pytest.raises(UserInputError, match="model.backbone: .*nope.keras not found"):
        check_paths(_recipe(tmp_path / "nope.keras"), "r.yaml")


def test_run_trains_a_new_head_on_it(foreign, tmp_path):
    from tflite_edge.run import run_recipe

    path, _ = foreign
    r = _recipe(path, train={"epochs": 1, "steps_per_epoch": 2, "tensorboard": False},
                convert={"formats": ["float32"]}, benchmark={"runs": 2, "warmup": 1, "warmup_min_s": 0.0,
                                                              "processes": 1})
    report = run_recipe(r, tmp_path / "run", log=lambda *a: None)
    spec = json.loads((tmp_path / "run" / "input_spec.json").read_text())
    assert (spec["mean"], spec["std"]) == (0.0, 1.0) and report["artifacts"][0]["accuracy"] is not None
