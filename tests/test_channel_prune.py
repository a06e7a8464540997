"""Channel pruning: the rebuilt model equals the masked original, for every registered backbone."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.models import MODELS
from tflite_edge.recipe import validate_dict

from conftest import TINY


def _keras():
    from tflite_edge import compat

    return compat.keras()


def _randomise_bn(model, seed=1):
    """Trained-looking BatchNorm statistics, so slicing them wrongly shows in the outputs."""
    keras, rng = _keras(), np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.3, b.shape),
                               rng.normal(0, 0.3, m.shape), rng.uniform(0.5, 2.0, v.shape)])


def _logits(model):
    keras = _keras()
    return keras.Model(model.inputs, model.get_layer("logits").output)


def _classifier(name, width=0.35, size=32, channels=3):
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    _keras().utils.set_random_seed(0)
    model = build_classifier(ModelSpec(name=name, width=width), InputSpec(size, size, channels), 10)
    _randomise_bn(model)
    return model


def _assert_equivalent(model, ratio=0.5, criterion="l1"):
    from tflite_edge import channel_prune as cp

    g = cp.analyse(model)
    plan = cp.plan_channels(model, g, cp.group_ratios(g, ratio), criterion, 8)
    pruned = cp.apply_plan(model, g, plan)
    masked = cp.mask_model(model, g, plan)
    x = np.random.default_rng(0).normal(size=(3,) + tuple(model.input_shape[1:])).astype(np.float32)
    want = _logits(masked)(x).numpy() if "logits" in [l.name for l in model.layers] else masked(x).numpy()
    got = _logits(pruned)(x).numpy() if "logits" in [l.name for l in model.layers] else pruned(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    assert plan.groups, "nothing was pruned"
    assert cp.count_macs(pruned) < cp.count_macs(model) and pruned.count_params() < model.count_params()
    assert cp.count_macs(pruned) == cp.planned_macs(model, g, plan)
    return g, plan, pruned


# our own backbones; the keras_* applications (Rescaling, Normalization layers) are not analysed yet
OWN_MODELS = [n for n in MODELS.names() if MODELS.meta(n).get("family") not in ("keras_applications", "model_file")]


@pytest.mark.parametrize("name", OWN_MODELS)
def test_rebuilt_model_equals_masked_original(name):
    model = _classifier(name)
    g, plan, pruned = _assert_equivalent(model, 0.5)
    # channels tied by a residual Add keep the same count on every side of it
    for layer in pruned.layers:
        if type(layer).__name__ == "Add":
            assert len({s[-1] for s in layer.input_shape}) == 1
    # model input and logits are never pruned
    assert pruned.input_shape == model.input_shape and pruned.output_shape == model.output_shape


def test_se_block_and_bn_scale_criterion():
    model = _classifier("mobilenet_v3_small")
    g, plan, pruned = _assert_equivalent(model, 0.5, "bn_scale")
    used = {row["group"]: row["criterion"] for row in plan.groups}
    assert used["block1_expand_conv"] == "bn_scale"
    assert used["block4_se_reduce"].startswith("l1")  # no BatchNorm after the SE reduce conv: said so
    # the SE expand conv is tied to the block's channels (Multiply), so both shrink together
    assert pruned.get_layer("block0_se_expand").filters == pruned.get_layer("block0_dw").output_shape[-1]


def test_concatenate_offsets_and_rounding():
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    a = L.BatchNormalization(name="a_bn")(L.Conv2D(24, 3, padding="same", name="a")(inp))
    b = L.ReLU(name="b_relu")(L.Conv2D(16, 1, name="b")(inp))
    c = L.Concatenate(name="cat")([a, b])
    d = L.DepthwiseConv2D(3, padding="same", name="dw")(c)
    x = L.Conv2D(32, 1, name="mix")(d)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    out = L.Dense(5, name="logits")(x)
    model = keras.Model(inp, out)
    _randomise_bn(model)
    g, plan, pruned = _assert_equivalent(model, 0.5)
    assert pruned.get_layer("a").filters == 16 and pruned.get_layer("b").filters == 8  # multiples of 8
    assert pruned.get_layer("mix").kernel.shape[2] == 24  # rows follow the concatenation's offsets


def test_per_layer_ratios_and_macs_target():
    from tflite_edge import channel_prune as cp

    model = _classifier("mobilenet_v2")
    pruned, report = cp.prune_channels(model, ratios={"block1_expand": 0.5})
    assert [r["group"] for r in report["groups"]] == ["block1_expand_conv"]
    g = cp.analyse(model)
    r = cp.ratio_for_macs(model, g, 0.5)
    plan = cp.plan_channels(model, g, cp.group_ratios(g, r, clamp=True), "l1", 8)
    assert cp.planned_macs(model, g, plan) <= 0.5 * cp.count_macs(model)


def test_latency_allocation_spends_the_macs_budget_where_time_goes(monkeypatch):
    """With a cost model where large feature maps cost 4x per channel, the latency allocation prunes
    the large maps to max_ratio first, meets the MACs target, and beats a uniform ratio's time."""
    from tflite_edge import channel_prune as cp
    from tflite_edge.channel_prune import latency  # ratios_by_latency looks its timers up there, not in cp

    model = _classifier("mobilenet_v2", size=32)

    def fake_ms(m, calibration, *bench_args, **bench):  # no conversion: a stand-in timer
        total = 0.0
        for layer in m.layers:
            if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"):
                h = layer.output_shape[1]
                total += layer.output_shape[3] * h * h * (4.0 if h >= 16 else 1.0)
        return total / 1e4

    monkeypatch.setattr(latency, "int8_reference", lambda m, c, folder, **kw: ("ref", fake_ms(m, c)))
    monkeypatch.setattr(latency, "int8_latency_ratio", lambda m, ref, c, **kw: fake_ms(m, c) / fake_ms(model, c))
    g = cp.analyse(model)
    ratios, search = cp.ratios_by_latency(model, g, 0.5, calibration=None, max_ratio=0.7)
    pruned = cp.apply_plan(model, g, cp.plan_channels(model, g, ratios))
    assert cp.count_macs(pruned) <= 0.5 * cp.count_macs(model)
    probes = sorted(search["probes"], key=lambda p: -p["efficiency"])
    assert probes[0]["feature_map"] >= 16 and probes[0]["ratio"] == 0.7
    uniform = cp.apply_plan(model, g, cp.plan_channels(model, g, cp.group_ratios(g, cp.ratio_for_macs(model, g, 0.5),
                                                                                clamp=True)))
    assert fake_ms(pruned, None) < fake_ms(uniform, None)
    with pytest.raises(UserInputError, match="out of reach with max_ratio 0.1"):
        cp.ratios_by_latency(model, g, 0.2, calibration=None, max_ratio=0.1)


def test_batchnorm_recalibration_gives_the_statistics_of_the_data():
    """With every batch the whole image set, the bias-corrected EMA equals that set's statistics."""
    from tflite_edge import channel_prune as cp

    keras = _keras()
    L = keras.layers
    inp = keras.Input((8, 8, 3))
    conv = L.Conv2D(8, 3, name="c")(inp)
    out = L.Dense(2, name="logits")(L.GlobalAveragePooling2D()(L.BatchNormalization(name="bn")(conv)))
    model = keras.Model(inp, out)
    _randomise_bn(model)
    images = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype(np.float32)
    assert cp.recalibrate_batchnorm(model, images, steps=300, batch_size=16) == 1
    feats = keras.Model(inp, conv)(images).numpy()
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), feats.mean(axis=(0, 1, 2)), atol=1e-4)
    n = feats.shape[0] * feats.shape[1] * feats.shape[2]  # Keras keeps the unbiased (n - 1) variance
    np.testing.assert_allclose(bn.moving_variance.numpy(), feats.var(axis=(0, 1, 2)) * n / (n - 1), rtol=1e-4,
                               atol=1e-5)


def test_ratio_removing_every_channel_names_the_layer():
    from tflite_edge import channel_prune as cp

    model = _classifier("plain_cnn", width=0.25, size=16)
    with pytest.raises(UserInputError, match=r"remove every channel of layer 'conv0_conv'"):
        cp.prune_channels(model, ratio=1.0)
    with pytest.raises(UserInputError, match=r"'nosuchlayer' matches no Conv2D/Dense layer"):
        cp.prune_channels(model, ratios={"nosuchlayer": 0.5})
    with pytest.raises(UserInputError, match=r"layer 'logits' cannot be pruned \(its channels are the model output"):
        cp.prune_channels(model, ratios={"logits": 0.5})


def test_unsupported_layer_is_named_before_any_work():
    from tflite_edge import channel_prune as cp

    keras = _keras()
    L = keras.layers
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, name="c")(inp)
    x = L.LayerNormalization(name="ln")(x)
    out = L.Dense(2, name="logits")(L.GlobalAveragePooling2D()(x))
    with pytest.raises(UserInputError, match=r"layer 'ln' \(LayerNormalization\) cannot be followed"):
        cp.analyse(keras.Model(inp, out))
    x = L.Conv2D(8, 3, groups=1, name="c2")(inp)
    x = L.Conv2D(8, 3, groups=2, name="grouped")(x)
    with pytest.raises(UserInputError, match=r"layer 'grouped' \(Conv2D with groups > 1"):
        cp.analyse(keras.Model(inp, x))


def _recipe_dict(**spec):
    d = copy.deepcopy(TINY)
    d["name"] = "tiny_channels"
    d["convert"] = {"formats": ["float32"], "calibration_samples": 16}
    d["optimize"] = [{"prune_channels": {"epochs": 1, "measure_latency": False, **spec}}]
    return d


def test_recipe_rules():
    assert validate_dict(_recipe_dict(ratio=0.5)).optimize[0].prune_channels.ratio == 0.5
    with pytest.raises(UserInputError, match="exactly one of ratio, ratios, target_macs_ratio"):
        validate_dict(_recipe_dict(ratio=0.5, target_macs_ratio=0.5))
    with pytest.raises(UserInputError, match="exactly one of"):
        validate_dict(_recipe_dict())
    with pytest.raises(UserInputError, match="not a valid regular expression"):
        validate_dict(_recipe_dict(ratios={"(": 0.5}))
    with pytest.raises(UserInputError, match="allocation: latency needs target_macs_ratio"):
        validate_dict(_recipe_dict(ratio=0.5, allocation="latency"))
    d = _recipe_dict(ratio=0.5)
    d["optimize"].insert(0, {"prune": {"sparsity": 0.5}})
    with pytest.raises(UserInputError, match="'prune_channels' after 'prune'.*put prune_channels first"):
        validate_dict(d)
    with pytest.raises(UserInputError, match="did you mean 'prune_channels'"):
        validate_dict({**_recipe_dict(ratio=0.5), "optimize": [{"prune_channel": {"ratio": 0.5}}]})


def test_bad_layer_fails_at_build_before_training(tmp_path):
    from tflite_edge.run import run_recipe

    recipe = validate_dict(_recipe_dict(ratios={"conv9": 0.5}))
    with pytest.raises(UserInputError, match=r"optimize\[0\].prune_channels.ratios: 'conv9' matches no"):
        run_recipe(recipe, tmp_path / "run", log=lambda *a: None)
    assert not (tmp_path / "run" / "checkpoints" / "trained.keras").exists()
    recipe = validate_dict(_recipe_dict(target_macs_ratio=0.5, allocation="latency", max_ratio=0.5))
    with pytest.raises(UserInputError, match=r"target_macs_ratio: 0.5 is out of reach with max_ratio 0.5"):
        run_recipe(recipe, tmp_path / "run2", log=lambda *a: None)
    assert not (tmp_path / "run2" / "checkpoints" / "trained.keras").exists()


def test_stage_prunes_fine_tunes_and_reports(tmp_path):
    from tflite_edge.run import run_recipe

    recipe = validate_dict(_recipe_dict(target_macs_ratio=0.85, allocation="latency", distill_from_unpruned=True))
    rep = run_recipe(recipe, tmp_path / "run", log=lambda *a: None)
    step = rep["optimize"][0]
    assert step["name"] == "prune_channels" and step["distilled_from_unpruned"] is True
    assert step["allocation"] == "latency" and step["macs_ratio"] <= 0.85
    assert step["latency_search"]["probes"] and step["int8_latency_ms_p50_after"] > 0  # real probes, timed
    assert step["macs_after"] < step["macs_before"] and step["params_after"] < step["params_before"]
    assert 0.0 <= step["accuracy_pruned_before_fine_tune"] <= 1.0 and 0.0 <= step["accuracy_pruned_as_cut"] <= 1.0
    assert step["bn_recalibrated_layers"] > 0
    assert rep["artifacts"][0]["size_bytes"] > 0


def test_detector_heads_prune_consistently():
    """Heads read named feature maps, reshape and concatenate: their inputs prune, their outputs not."""
    from tflite_edge import channel_prune as cp
    from tflite_edge.tasks.detection.model import build_detector
    from tflite_edge.models.classifier import InputSpec

    r = validate_dict({"name": "d", "task": "detection", "data": {"dataset": "shapes_detection", "image_size": 64},
                       "model": {"name": "mobilenet_v2", "width": 0.35}, "detector": {"name": "ssdlite"}})
    _keras().utils.set_random_seed(0)
    model = build_detector(r, InputSpec(64, 64, 3), 4)
    _randomise_bn(model)
    g = cp.analyse(model)
    plan = cp.plan_channels(model, g, cp.group_ratios(g, 0.5), "l1", 8)
    pruned, masked = cp.apply_plan(model, g, plan), cp.mask_model(model, g, plan)
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    for got, want in zip(pruned(x), masked(x)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4, rtol=1e-4)
    assert cp.count_macs(pruned) < cp.count_macs(model)
    assert [o.shape for o in pruned.outputs] == [o.shape for o in model.outputs]
