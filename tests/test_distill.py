"""Distillation: teachers from the run or from a file, checked before training; the loss itself."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict

from conftest import TINY


def _classifier(classes=4, size=16, width=0.25, lam=False):
    from tflite_edge import compat
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    keras = compat.keras()
    m = build_classifier(ModelSpec(name="plain_cnn", width=width), InputSpec(size, size, 3), classes)
    if lam:
        x = keras.layers.Lambda(lambda t: t * 1.0, name="lam")(m.output)
        m = keras.Model(m.input, x)
    return m


def _recipe(teacher, **extra):
    d = copy.deepcopy(TINY)
    d["name"] = "tiny_kd"
    d["convert"] = {"formats": ["float32"]}
    d["teacher"] = teacher
    d.update(extra)
    return validate_dict(d)


@pytest.mark.parametrize("kind,match", [
    ("classes", r"teacher\.sources\[0\]\.path: the teacher outputs shape .*same classes"),
    ("size", r"teacher\.sources\[0\]\.path: the teacher takes input"),
    ("lambda", r"teacher\.sources\[0\]\.path: .*Lambda.*teacher\.sources\[0\]\.trust_lambda"),
])
def test_bad_teacher_fails_before_training(tmp_path, kind, match):
    from tflite_edge.run import run_recipe

    model = {"classes": lambda: _classifier(classes=3), "size": lambda: _classifier(size=24),
             "lambda": lambda: _classifier(lam=True)}[kind]()
    path = tmp_path / "teacher.keras"
    model.save(path)
    # a model teacher listed first must not be trained when the file teacher is bad
    recipe = _recipe({"sources": [{"model": {"name": "plain_cnn", "width": 0.25}, "epochs": 1},
                                  {"path": str(path)}]})
    recipe = recipe.model_copy(update={"teacher": recipe.teacher.model_copy(
        update={"sources": list(reversed(recipe.teacher.sources))})})
    run_dir = tmp_path / "run"
    with pytest.raises(UserInputError, match=match) as e:
        run_recipe(recipe, run_dir, log=lambda *a: None)
    assert "\n" not in str(e.value)
    assert not (run_dir / "checkpoints" / "trained.keras").exists()
    assert not (run_dir / "checkpoints" / "teacher_1.keras").exists()


def test_trusted_lambda_teacher_loads(tmp_path):
    from tflite_edge.distill import load_path_teacher
    from tflite_edge.recipe import TeacherSource
    from tflite_edge.tasks.classification.distill import check_teacher

    path = tmp_path / "teacher.keras"
    _classifier(lam=True).save(path)

    class Ctx:  # the parts of RunContext the check reads
        from tflite_edge.models.classifier import InputSpec
        input_spec = InputSpec(16, 16, 3)

    model = load_path_teacher(Ctx(), 0, TeacherSource(path=str(path), trust_lambda=True), 4, check_teacher)
    assert model.output_shape == (None, 4)


def test_distilled_run_with_two_teachers_and_a_hint(tmp_path):
    from tflite_edge.run import run_recipe

    file_teacher = tmp_path / "t.keras"
    _classifier(width=0.5).save(file_teacher)
    teacher = {"sources": [{"model": {"name": "plain_cnn", "width": 0.5}, "epochs": 1, "weight": 2.0},
                           {"path": str(file_teacher)}],
               "hints": [{"student_layer": "conv2_relu6", "teacher_layer": "conv2_relu6"}]}
    recipe = _recipe(teacher, optimize=[{"prune": {"sparsity": 0.5, "epochs": 1}}])
    logs = []
    run_dir = tmp_path / "run"
    rep = run_recipe(recipe, run_dir, log=logs.append)
    assert (run_dir / "checkpoints" / "teacher_0.keras").exists()
    hist = __import__("json").loads((run_dir / "manifest.json").read_text())["stages"]["train"]["outputs"]
    assert {"loss", "ce_loss", "kd_loss", "accuracy"} <= set(hist["history"])
    assert rep["optimize"][0]["sparsity"] == pytest.approx(0.5, abs=0.02)
    kd = rep["distillation"]
    assert [t["source"] for t in kd["teachers"]] == ["trained_in_run", "path"]
    assert [t["weight"] for t in kd["teachers"]] == pytest.approx([2 / 3, 1 / 3])
    assert all(0.0 <= t["accuracy"] <= 1.0 for t in kd["teachers"]) and kd["hints"] == 1
    assert "teacher 1: " in (run_dir / "report.md").read_text()
    logs.clear()
    run_recipe(recipe, run_dir, from_stage="optimize", log=logs.append)
    assert any("reusing checkpoints/teacher_0.keras" in str(line) for line in logs)


def test_loss_matches_the_formula():
    from tflite_edge import compat
    from tflite_edge.tasks.classification.distill import distiller_class, logits_tensor
    from tflite_edge.recipe import TeacherSpec

    keras, tf = compat.keras(), compat.tf()
    student, teacher = _classifier(), _classifier(width=0.5)
    spec = TeacherSpec(sources=[{"path": "unused"}], temperature=3.0, alpha=0.3, beta=0.7)
    s_view = keras.Model(student.inputs, logits_tensor(student)[0])
    t_view = keras.Model(teacher.inputs, logits_tensor(teacher)[0])
    d = distiller_class()(student, s_view, [(t_view, False)], [1.0], [], spec, False, 0.0)
    x = np.random.default_rng(0).random((5, 16, 16, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0])
    total, ce, kd, _, _ = d._loss(tf.constant(x), tf.constant(y), False)
    zs, zt = s_view(x).numpy(), t_view(x).numpy()

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ce_np = -np.mean(np.log(softmax(zs)[np.arange(5), y]))
    pt, ps = softmax(zt / 3.0), softmax(zs / 3.0)
    kl_np = np.mean(np.sum(pt * (np.log(pt) - np.log(ps)), -1))
    assert float(total) == pytest.approx(0.3 * ce_np + 0.7 * 9.0 * kl_np, rel=1e-4)


def test_logits_from_a_fused_softmax_teacher():
    from tflite_edge import compat
    from tflite_edge.tasks.classification.distill import logits_tensor

    keras = compat.keras()
    inp = keras.Input((4,))
    m = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp))
    assert logits_tensor(m)[1] is True
    assert logits_tensor(_classifier())[1] is False


def test_teacher_schema_needs_one_source():
    with pytest.raises(UserInputError, match=r"teacher\.sources\[0\]: give exactly one"):
        _recipe({"sources": [{}]})
