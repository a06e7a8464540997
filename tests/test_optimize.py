"""Stage `optimize`: prune -> cluster -> QAT on a tiny model, measured in Keras and in the .tflite."""
from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict

from conftest import TINY


def _compress_dict():
    d = copy.deepcopy(TINY)
    d["name"] = "tiny_compress"
    d["convert"] = {"formats": ["float32", "int8"], "calibration_samples": 16}
    d["optimize"] = [{"prune": {"sparsity": 0.5, "epochs": 1}},
                     {"cluster": {"clusters": 4, "epochs": 1}},
                     {"qat": {"epochs": 1}}]
    return d


@pytest.fixture(scope="module")
def compress_run(tmp_path_factory):
    from tflite_edge.run import run_recipe

    recipe = validate_dict(_compress_dict())
    run_dir = tmp_path_factory.mktemp("runs") / "compress"
    return recipe, run_dir, run_recipe(recipe, run_dir, log=lambda *a: None)


def test_steps_measured_and_survive_conversion(compress_run):
    _, _, rep = compress_run
    steps = rep["optimize"]
    assert [s["name"] for s in steps] == ["prune", "cluster", "qat"]
    prune, cluster, qat = steps
    assert prune["sparsity"] == pytest.approx(0.5, abs=0.02)
    assert cluster["preserve_sparsity"] is True and cluster["unique_values_per_kernel"]["max"] <= 4 + 1
    assert cluster["sparsity"] >= prune["sparsity"] - 0.01
    assert qat["scheme"] == "pcqat" and qat["range_warmup"]["ranges"] > 0
    for s in steps:
        assert s["size_bytes"] > 0 and 0 < s["gzip_bytes"] < s["size_bytes"] and s["seconds"] >= 0
        assert 0.0 <= s["accuracy"] <= 1.0
    int8 = next(a for a in rep["artifacts"] if a["format"] == "int8")
    # read back from the flatbuffer: the zeros and the clusters are in the shipped bytes
    assert int8["tflite_sparsity"] == pytest.approx(prune["sparsity"], abs=0.02)
    assert int8["tflite_unique_values"] <= 4 + 1


def test_resume_rebuilds_the_qat_graph(compress_run, tmp_path):
    from tflite_edge.run import run_recipe

    recipe, run_dir, rep = compress_run
    copy_dir = tmp_path / "resumed"
    shutil.copytree(run_dir, copy_dir)
    again = run_recipe(recipe, copy_dir, from_stage="convert", log=lambda *a: None)
    acc = {a["name"]: a["accuracy"] for a in rep["artifacts"]}
    assert {a["name"]: a["accuracy"] for a in again["artifacts"]} == acc
    assert again["keras"]["accuracy"] == rep["keras"]["accuracy"]


def test_qat_scheme_follows_history():
    from tflite_edge.optimize.qat import qat_scheme

    assert qat_scheme([])[0] == "default"
    assert qat_scheme(["prune"])[0] == "pqat"
    assert qat_scheme(["cluster"])[0] == "cqat"
    assert qat_scheme(["prune", "cluster"])[0] == "pcqat"


def _small_model():
    from tflite_edge import compat

    keras = compat.keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8, 8, 4))
    x = L.Conv2D(8, 3, name="conv_a")(inp)
    x = L.DepthwiseConv2D(3, name="dw")(x)
    x = L.Conv2D(8, 1, name="conv_b")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(4, name="logits")(x)
    return keras.Model(inp, L.Softmax(name="probs")(x))


def test_layer_selection_and_m_by_n():
    from tflite_edge.optimize.prune import _apply_masks_now, _prune_wrappers, wrap_prune
    from tflite_edge.recipe import PruneSpec

    spec = PruneSpec(m_by_n=[2, 4], layers=["^conv_"], epochs=0, schedule="constant")
    wrapped = wrap_prune(None, _small_model(), spec, "optimize[0].prune", 1)
    assert sorted(l.layer.name for l in _prune_wrappers(wrapped)) == ["conv_a", "conv_b"]
    _apply_masks_now(wrapped, spec)
    kernel = wrapped.get_layer("prune_low_magnitude_conv_b").layer.kernel.numpy()  # (1, 1, 8, 8)
    groups = (kernel.reshape(8, 8).T.reshape(8, 2, 4) != 0).sum(-1)  # 4 inputs per output channel
    assert groups.max() <= 2


def test_layer_types_and_no_match():
    from tflite_edge.optimize.prune import _prune_wrappers, wrap_prune
    from tflite_edge.recipe import PruneSpec

    wrapped = wrap_prune(None, _small_model(), PruneSpec(layer_types=["Dense"]), "optimize[0].prune", 10)
    assert [l.layer.name for l in _prune_wrappers(wrapped)] == ["logits"]
    with pytest.raises(UserInputError, match=r"optimize\[0\]\.prune: no prunable layer"):
        wrap_prune(None, _small_model(), PruneSpec(layers=["nothing"]), "optimize[0].prune", 10)


def test_xnnpack_policy_refuses_unsuitable_model():
    from tflite_edge.optimize.prune import wrap_prune
    from tflite_edge.recipe import PruneSpec

    with pytest.raises(UserInputError, match=r"optimize\[0\]\.prune\.xnnpack_policy"):
        wrap_prune(None, _small_model(), PruneSpec(xnnpack_policy=True), "optimize[0].prune", 10)


def test_qat_skip_layers_stay_float():
    from tflite_edge.optimize.qat import wrap_qat
    from tflite_edge.recipe import QatSpec

    q, info = wrap_qat(_small_model(), QatSpec(skip_layers=["^logits$"]), "optimize[0].qat", [])
    assert info == {"scheme": "default", "skipped_layers": ["logits"]}
    # tfmot still wraps the skipped Dense to quantize its output for the Softmax, but not its kernel
    assert not any("kernel_min" in w.name for w in q.get_layer("quant_logits").weights)
    assert any("kernel_min" in w.name for w in q.get_layer("quant_conv_a").weights)
    assert type(q.get_layer("quant_conv_a")).__name__.startswith("QuantizeWrapper")


def test_qat_range_warmup_starts_from_measured_ranges():
    """Wrapped and untrained, tfmot's QAT model quantizes with [-6, 6] ranges; after the warm-up its
    outputs are close to the float model's, and the BatchNorm statistics are the float model's."""
    from tflite_edge import compat
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.optimize.qat import warm_up_ranges, wrap_qat
    from tflite_edge.recipe import ModelSpec, QatSpec

    keras = compat.keras()
    keras.utils.set_random_seed(0)
    model = build_classifier(ModelSpec(name="plain_cnn", width=0.5), InputSpec(16, 16, 3), 10)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.3, b.shape),
                               rng.normal(0, 0.3, m.shape), rng.uniform(0.5, 2.0, v.shape)])
    logits = keras.Model(model.inputs, model.get_layer("logits").output)
    images = rng.uniform(-1, 1, (64, 16, 16, 3)).astype(np.float32)
    want = logits(images).numpy()

    def qat_logits(q):
        return keras.Model(q.inputs, q.get_layer("quant_logits").output)(images).numpy()

    cold, _ = wrap_qat(model, QatSpec(), "qat", [])
    warm, _ = wrap_qat(model, QatSpec(), "qat", [])
    bn = [w.numpy() for w in warm.variables if "moving_" in w.name]
    assert warm_up_ranges(warm, images, steps=100, batch_size=16) > 0
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(bn, [w for w in warm.variables if "moving_" in w.name]))
    err_warm = np.abs(qat_logits(warm) - want).mean()
    err_cold = np.abs(qat_logits(cold) - want).mean()
    assert err_warm < 0.25 * err_cold, (err_warm, err_cold)


@pytest.mark.parametrize("optimize,path", [
    ([{"prune": {"sparsity": 1.0}}], r"optimize\[0\]\.prune\.sparsity"),
    ([{"prune": {"sparsity": -0.1}}], r"optimize\[0\]\.prune\.sparsity"),
    ([{"cluster": {"clusters": 1}}], r"optimize\[0\]\.cluster\.clusters"),
    ([{"qat": {}}, {"cluster": {}}], r"'cluster' after 'qat'"),
])
def test_bad_optimize_entries(optimize, path):
    d = copy.deepcopy(TINY)
    d["optimize"] = optimize
    with pytest.raises(UserInputError, match=path):
        validate_dict(d)


def test_initial_sparsity_above_target():
    from tflite_edge.optimize.prune import _prune_schedule
    from tflite_edge.recipe import PruneSpec

    with pytest.raises(UserInputError, match=r"optimize\[1\]\.prune\.initial_sparsity"):
        _prune_schedule(PruneSpec(sparsity=0.3, initial_sparsity=0.5), 10, "optimize[1].prune")


def test_measure_weights_counts_zeros_and_values():
    from tflite_edge.weights import measure_weights

    m = _small_model()
    k = m.get_layer("conv_a").kernel
    k.assign(np.zeros(k.shape, np.float32))
    out = measure_weights(m)
    assert out["unique_values_per_kernel"]["min"] == 1
    assert out["sparsity"] >= k.shape.num_elements() / out["kernel_weights"]


def test_shipped_recipes_validate():
    from pathlib import Path

    from tflite_edge.recipe import load_recipe

    root = Path(__file__).resolve().parents[1] / "recipes"
    for name in ("fashion_mnist_compress.yaml", "shapes_compress.yaml"):
        r = load_recipe(root / name)
        assert [next(iter(type(s).model_fields)) for s in r.optimize] == ["prune", "cluster", "qat"]
        assert r.teacher is not None and "int8" in r.convert.formats


def test_every_optimization_of_the_schema_has_a_technique():
    from tflite_edge.optimize import TECHNIQUES
    from tflite_edge.recipe import OPTIMIZATIONS

    assert sorted(TECHNIQUES.names()) == sorted(OPTIMIZATIONS)
    assert [n for n in TECHNIQUES if TECHNIQUES.meta(n).get("rewrap")] == ["qat"]  # its .keras does not load back


def test_report_leads_with_the_trained_model_as_baseline(compress_run):
    """report.json's baseline is the model before optimize (accuracy, float32 TFLite size and gzip),
    each artifact says how it compares, and report.md and report.html show that first."""
    _, run_dir, rep = compress_run
    base = rep["baseline"]
    assert base["model"] == "checkpoints/trained.keras" and 0.0 <= base["accuracy"] <= 1.0
    assert 0 < base["gzip_bytes"] < base["size_bytes"]
    for a in rep["artifacts"]:
        vs = a["vs_baseline"]
        assert vs["gzip_x"] == pytest.approx(base["gzip_bytes"] / a["gzip_bytes"])
        assert vs["size_x"] == pytest.approx(base["size_bytes"] / a["size_bytes"])
        assert vs["accuracy_drop"] == pytest.approx(base["accuracy"] - a["accuracy"])
    int8 = next(a for a in rep["artifacts"] if a["format"] == "int8")
    assert int8["vs_baseline"]["gzip_x"] > 3  # pruned, clustered and int8: much smaller than the trained float32
    md = (run_dir / "report.md").read_text()
    assert md.index("trained model (baseline)") < md.index("Keras model:")
    assert f"{int8['vs_baseline']['gzip_x']:.1f}x" in md
    html = (run_dir / "report.html").read_text()
    assert html.index("trained model (baseline)") < html.index("Artifacts and targets")
