"""Adaptive inference: the `adaptive:` schema, the cascade's decision rule, exits and segments on
real Keras models, and one tiny end-to-end run (QAT and a teacher through the exits) whose cascades
are run for real, image by image, and compared with what evaluation and the report say."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from tflite_edge.tasks.classification.adaptive import cascade
from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict

BASE = {"name": "a", "data": {"dataset": "shapes", "image_size": 16}, "model": {"name": "mobilenet_v2", "width": 0.35,
                                                                                "stem_stride": 1}}


def _recipe(adaptive, **extra):
    return validate_dict({**copy.deepcopy(BASE), "adaptive": adaptive, **extra})


# ---- schema (no TensorFlow)

@pytest.mark.parametrize("adaptive, where", [
    ({"exits": [{"after": "stride_4"}], "threshold": 1.5}, "adaptive.threshold: 1.5 is not a confidence in (0, 1)"),
    ({"exits": [{"after": "stride_4"}], "threshold": 0}, "adaptive.threshold: 0 is not a confidence"),
    ({"exits": [{"after": "stride_4"}], "threshold": "sometimes"}, "adaptive.threshold: 'sometimes'"),
    ({"exits": [{"after": "stride_4", "threshold": 1.0}]}, "adaptive.exits[0].threshold: 1.0 is not a confidence"),
    ({"exits": [{"after": "stride_4"}, {"after": "stride_4"}]}, "two exits after 'stride_4'"),
    ({"exits": []}, "adaptive.exits"),
    ({"exits": [{"after": "stride_4", "treshold": 0.9}]}, "did you mean 'threshold'"),
])
def test_bad_adaptive_sections_name_the_key(adaptive, where):
    with pytest.raises(UserInputError) as e:
        _recipe(adaptive)
    assert where in str(e.value) and "\n" not in str(e.value)


def test_adaptive_is_classification_only_and_refuses_what_drops_the_exits():
    det = {"name": "d", "task": "detection", "data": {"dataset": "shapes_detection"},
           "model": {"name": "mobilenet_v2"}, "detector": {"name": "ssdlite"},
           "adaptive": {"exits": [{"after": "stride_8"}]}}
    with pytest.raises(UserInputError, match="classification only"):
        validate_dict(det)
    with pytest.raises(UserInputError, match="prune_channels rebuilds"):
        _recipe({"exits": [{"after": "stride_4"}]}, optimize=[{"prune_channels": {"ratio": 0.25}}])
    with pytest.raises(UserInputError, match="validation split"):
        _recipe({"exits": [{"after": "stride_4"}]},
                data={"dataset": "shapes", "image_size": 16, "validation_fraction": 0.0})
    # thresholds by hand need no validation split
    r = _recipe({"exits": [{"after": "stride_4", "threshold": 0.8}, {"after": "stride_8"}], "threshold": 0.9},
                data={"dataset": "shapes", "image_size": 16, "validation_fraction": 0.0})
    assert r.adaptive.fixed_thresholds() == [0.8, 0.9] and not r.adaptive.needs_validation
    r = _recipe({"exits": [{"after": "stride_4", "threshold": 0.8}, {"after": "stride_8"}]})
    assert r.adaptive.fixed_thresholds() == [0.8, None] and r.adaptive.needs_validation


# ---- the decision rule (numpy)

def test_decide_takes_the_first_confident_exit():
    s0 = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5]])
    s1 = np.array([[0.1, 0.9], [0.05, 0.95], [0.7, 0.3]])
    final = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8]])
    pred, exit_at = cascade.decide([s0, s1, final], [0.8, 0.9])
    assert exit_at.tolist() == [0, 1, 2] and pred.tolist() == [0, 1, 1]
    assert cascade.exit_rates(exit_at, 2) == pytest.approx([1 / 3, 1 / 3, 1 / 3])


def test_auto_threshold_is_the_lowest_that_keeps_accuracy():
    rng = np.random.default_rng(0)
    n, labels = 400, np.arange(400) % 4
    final = np.eye(4)[labels] * 0.9 + 0.025  # always right
    conf = rng.uniform(0.3, 1.0, n)
    exit_pred = np.where(conf > 0.7, labels, (labels + 1) % 4)  # wrong below 0.7 confidence
    s0 = np.full((n, 4), 0.0)
    s0[np.arange(n), exit_pred] = conf
    s0 += (1 - conf)[:, None] / 4
    got = cascade.choose_threshold([s0, final], labels, [None], max_accuracy_drop=0.0)
    assert got["met"] and got["accuracy"] == 1.0
    # the chosen threshold is the first grid value above the top score of every wrong exit
    wrong_top = s0[exit_pred != labels].max(axis=1).max()
    assert got["threshold"] >= wrong_top
    assert got["threshold"] == min(t for t in cascade.THRESHOLD_GRID if t >= wrong_top)
    loose = cascade.choose_threshold([s0, final], labels, [None], max_accuracy_drop=0.2)
    assert loose["threshold"] < got["threshold"] and loose["exit_rates"][0] > got["exit_rates"][0]


def test_latency_adds_up_the_segments_each_image_ran():
    exit_at = np.array([0, 0, 1, 2])
    ms = [1.0, 2.0, 4.0]
    assert cascade.per_image_latency_ms(exit_at, ms).tolist() == [1.0, 1.0, 3.0, 7.0]
    s = cascade.latency_summary(exit_at, ms)
    assert s["latency_ms_mean"] == pytest.approx(3.0) and s["latency_ms_p50"] == pytest.approx(2.0)
    assert cascade.latency_from_rates([0.5, 0.25, 0.25], ms) == pytest.approx(3.0)


# ---- exits and segments on real Keras models

@pytest.fixture(scope="module")
def adaptive_model():
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.tasks.classification.build import build_model

    r = _recipe({"exits": [{"after": "stride_2", "head_channels": 16}, {"after": "block5_add", "head_channels": 16}]})
    return build_model(r.model, InputSpec(16, 16, 3), 4, r.adaptive)


def test_segments_compose_to_the_model(adaptive_model):
    from tflite_edge.tasks.classification.adaptive.exits import final_model, segment_models

    m = adaptive_model
    assert m.output_names == ["exit0_probs", "exit1_probs", "probs"]
    x = np.random.default_rng(1).uniform(-1, 1, (5, 16, 16, 3)).astype(np.float32)
    want = [o.numpy() for o in m(x, training=False)]
    s0, s1, s2 = segment_models(m)
    p0, f0 = s0(x, training=False)
    p1, f1 = s1(f0, training=False)
    p2 = s2(f1, training=False)
    for got, w in zip((p0, p1, p2), want):
        np.testing.assert_allclose(got.numpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final_model(m)(x, training=False).numpy(), want[-1], rtol=1e-5, atol=1e-6)


def test_an_adaptive_teacher_teaches_with_its_final_head(adaptive_model):
    from tflite_edge import compat
    from tflite_edge.tasks.classification.adaptive.exits import final_head, is_adaptive

    assert is_adaptive(adaptive_model)
    head = final_head(adaptive_model)
    assert len(head.outputs) == 1 and head.output_names == ["probs"]
    keras = compat.keras()
    inp = keras.Input((4,))
    two = keras.Model(inp, [keras.layers.Dense(2, name="a")(inp), keras.layers.Dense(2, name="b")(inp)])
    assert not is_adaptive(two) and final_head(two) is two  # another multi-output model: not guessed at


@pytest.mark.parametrize("exits, message", [
    ([{"after": "stride_64"}], "'stride_64' is not a feature map or layer of this model; valid: feature maps stride_1"),
    ([{"after": "stride_8"}, {"after": "stride_2"}], "in the order data flows"),
    ([{"after": "block2_expand_relu6"}], "cannot be cut at 'block2_expand_relu6'"),
    ([{"after": "pool"}], "not a feature map (N, H, W, C)"),
])
def test_bad_exit_places_fail_at_build_with_one_line(exits, message):
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.tasks.classification.build import build_model

    r = _recipe({"exits": exits})
    with pytest.raises(UserInputError) as e:
        build_model(r.model, InputSpec(16, 16, 3), 4, r.adaptive)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_exits_on_a_loaded_model_at_a_layer_name(tmp_path):
    from tflite_edge import compat
    from tflite_edge.recipe import validate_dict as v
    from tflite_edge.run import run_recipe

    keras = compat.keras()
    L = keras.layers
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, activation="softmax")(x)
    keras.Model(inp, out).save(tmp_path / "user.keras")
    r = v({"name": "own", "data": {"dataset": "shapes", "image_size": 16, "train_samples": 64, "test_samples": 32},
           "model": {"path": str(tmp_path / "user.keras")}, "adaptive": {"exits": [{"after": "c1"}]}})
    run_recipe(r, tmp_path / "run", log=lambda *a: None, until="build")
    built = keras.models.load_model(tmp_path / "run" / "checkpoints" / "built.keras")
    assert len(built.outputs) == 2 and built.output_names[0] == "exit0_probs"
    with pytest.raises(UserInputError, match="'c9' is not a feature map or layer.*c1"):
        r2 = v({**r.model_dump(mode="json"), "name": "own2", "adaptive": {"exits": [{"after": "c9"}]}})
        run_recipe(r2, tmp_path / "run2", log=lambda *a: None, until="build")


# ---- one tiny run end to end

ADAPTIVE_RUN = {
    "name": "tiny_adaptive", "seed": 0,
    "data": {"dataset": "shapes", "image_size": 16, "train_samples": 160, "test_samples": 48, "batch_size": 16},
    "model": {"name": "mobilenet_v2", "width": 0.35, "stem_stride": 1},
    "teacher": {"sources": [{"model": {"name": "plain_cnn", "width": 0.25}, "epochs": 1}]},
    "train": {"epochs": 1, "steps_per_epoch": 3, "tensorboard": False},
    "adaptive": {"exits": [{"after": "stride_2", "head_channels": 16}, {"after": "stride_4", "head_channels": 16}],
                 "max_accuracy_drop": 0.05},
    "optimize": [{"qat": {"epochs": 1}}],
    "convert": {"formats": ["float32", "int8", "uint8_io", "edgetpu"], "calibration_samples": 16},
    "benchmark": {"runs": 5, "warmup": 1, "warmup_min_s": 0.0, "processes": 1},
}


@pytest.fixture(scope="module")
def adaptive_run(tmp_path_factory):
    from tflite_edge.run import run_recipe

    recipe = validate_dict(copy.deepcopy(ADAPTIVE_RUN))
    run_dir = tmp_path_factory.mktemp("runs") / "tiny_adaptive"
    report = run_recipe(recipe, run_dir, log=lambda *a: None)
    return recipe, run_dir, report


def test_run_trains_exits_with_qat_and_teacher(adaptive_run):
    _, run_dir, report = adaptive_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    history = manifest["stages"]["train"]["outputs"]["history"]
    assert {"exit0_accuracy", "exit1_accuracy", "kd_loss", "val_exit1_accuracy"} <= set(history)
    assert report["optimize"][-1]["name"].endswith("qat")
    assert report["distillation"]["teachers"][0]["source"] == "trained_in_run"
    # the full-model artifacts hold the final head only: one output, the metadata's probabilities
    from tflite_edge.runtime import make_interpreter

    for a in report["artifacts"]:
        interp, _ = make_interpreter(str(run_dir / a["path"]))
        assert len(interp.get_output_details()) == 1


def test_cascades_run_for_real_match_evaluation(adaptive_run):
    """Per format: the runner stopping image by image gives the predictions and exit rates that
    evaluation computed from all segments, and the chosen thresholds reach cascade.json."""
    from tflite_edge.tasks.classification.adaptive.runner import Cascade
    from tflite_edge.data import load_dataset
    from tflite_edge.data.pipeline import numpy_batches
    from tflite_edge.models.classifier import InputSpec

    recipe, run_dir, report = adaptive_run
    section = report["adaptive"]
    rows = {c["format"]: c for c in section["cascades"]}
    assert set(rows) == {"keras", "float32", "int8", "uint8_io", "edgetpu"}
    dataset = load_dataset(recipe.data, recipe.seed)
    spec = InputSpec.load(run_dir / "input_spec.json")
    x = np.concatenate(list(numpy_batches(dataset.test_x, dataset, spec)))
    y = np.asarray(dataset.test_y)
    for fmt in ("float32", "int8", "uint8_io", "edgetpu"):  # edgetpu: static batch 1, uint8 in and out
        row = rows[fmt]
        c = Cascade.open(run_dir / row["cascade"])
        assert c.thresholds == row["thresholds"] and all(0 < t < 1 for t in c.thresholds)
        assert c.spec["thresholds"]["chosen"] == "auto" and c.spec["thresholds"]["validation"]["samples"] > 0
        got = [c.predict(img[None]) for img in x]
        pred = np.array([int(np.argmax(p)) for p, _ in got])
        exits = np.array([k for _, k in got])
        assert float(np.mean(pred == y)) == pytest.approx(row["accuracy"])
        assert [int(np.sum(exits == k)) for k in range(3)] == row["exit_counts"]
        lat = row["latency"]["host"]
        assert len(lat["segment_ms_mean"]) == 3 and all(v > 0 for v in lat["segment_ms_mean"])
        want = float(np.dot(row["exit_rates"], np.cumsum(lat["segment_ms_mean"])))
        assert lat["latency_ms_mean"] == pytest.approx(want)
        assert lat["speedup_mean"] == pytest.approx(lat["full_model_ms_mean"] / lat["latency_ms_mean"])
        assert len(lat["curve"]) == len(cascade.THRESHOLD_GRID)
    # the full model of each format is scored on its own too, beside its cascade
    assert {a["format"] for a in report["artifacts"]} >= {"float32", "int8", "uint8_io", "edgetpu"}


def test_report_shows_the_cascades(adaptive_run):
    _, run_dir, _ = adaptive_run
    md = (run_dir / "report.md").read_text()
    assert "## Adaptive inference (early-exit cascade)" in md and "| int8 |" in md
    html = (run_dir / "report.html").read_text()
    assert "early-exit cascade over thresholds" in html and html.count("<svg") >= 2


def test_predict_runs_a_cascade(adaptive_run, tmp_path):
    from PIL import Image

    _, run_dir, report = adaptive_run
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(tmp_path / "img.png")
    folder = run_dir / "artifacts" / "tiny_adaptive_int8_cascade"
    out = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "predict", str(folder), str(tmp_path / "img.png"),
                          "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["cascade"]["segments"] == 3 and result["results"][0]["exit"] in (0, 1, 2)
    assert result["results"][0]["top_k"][0]["label"] in ("circle", "square", "triangle", "cross")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cascade.json").write_text("{not json")
    bad = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "predict", str(tmp_path / "bad"),
                          str(tmp_path / "img.png")], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a readable cascade description" in bad.stderr
