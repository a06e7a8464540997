"""Contract over the model registry: every entry builds, trains a step, converts to int8, runs."""
import numpy as np
import pytest

from tflite_edge.models import MODELS, build_classifier
from tflite_edge.models.classifier import InputSpec
from tflite_edge.recipe import ModelSpec


# every own backbone, and one keras application (each converts alike; EfficientNet alone takes ~30 s)
CONTRACT = [n for n in MODELS.names() if MODELS.meta(n).get("family") != "keras_applications"] + \
    ["keras_mobilenet_v2"]


@pytest.mark.parametrize("name", CONTRACT)
def test_model_builds_trains_converts_and_runs(name, tmp_path):
    from tflite_edge import compat
    from tflite_edge.export import convert_keras

    keras = compat.keras()
    keras.utils.set_random_seed(0)
    spec = ModelSpec(name=name, width=0.25, stem_stride=1 if name.startswith("mobilenet") else 2)
    ispec = InputSpec(32, 32, 3)
    model = build_classifier(spec, ispec, num_classes=3)
    assert model.output_shape == (None, 3)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    y = np.arange(8) % 3
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    data = convert_keras(model, "int8", calibration=x)
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.resize_tensor_input(0, [8, 32, 32, 3])
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    probs = interp.get_tensor(interp.get_output_details()[0]["index"])
    keras_probs = model.predict(x, verbose=0)
    assert probs.shape == (8, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=0.02)
    # Untrained nets are near-tied between classes, so compare probabilities, not argmax.
    assert np.abs(probs - keras_probs).max() < 0.1, np.abs(probs - keras_probs).max()


def test_activation_choice_changes_the_graph():
    from tflite_edge import compat

    compat.keras()
    relu6 = build_classifier(ModelSpec(name="mobilenet_v1", width=0.25), InputSpec(32, 32, 3), 2)
    hswish = build_classifier(ModelSpec(name="mobilenet_v1", width=0.25, activation="hard_swish"),
                              InputSpec(32, 32, 3), 2)
    assert any(l.name.endswith("_hswish") for l in hswish.layers)
    assert not any(l.name.endswith("_hswish") for l in relu6.layers)


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="registered twice"):
        MODELS.register("plain_cnn")(lambda i, s: None)


def test_hard_swish_converts_to_one_fused_op_per_activation():
    """Our hard-swish is the converter's HARD_SWISH builtin (one op, delegated), in float and int8,
    and hard-sigmoid (squeeze-excite) is ADD with a fused RELU6 and a MUL: no MINIMUM/RELU chains."""
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge import compat
    from tflite_edge.export import convert_keras

    compat.keras().utils.set_random_seed(0)
    model = build_classifier(ModelSpec(name="mobilenet_v3_small", width=0.25, activation="hard_swish"),
                             InputSpec(32, 32, 3), 3)
    activations = sum(l.name.endswith("_hswish") for l in model.layers)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    for fmt in ("float32", "int8"):
        ops = [o["op_name"] for o in Interpreter(model_content=convert_keras(model, fmt, x))._get_ops_details()]
        assert ops.count("HARD_SWISH") == activations > 0, (fmt, ops.count("HARD_SWISH"), activations)
        assert "MINIMUM" not in ops and "RELU" not in ops, fmt


def test_keras_application_from_scratch_gets_short_run_batchnorm_momentum():
    from tflite_edge import compat
    from tflite_edge.models.keras_applications import FROM_SCRATCH_MOMENTUM

    keras = compat.keras()
    model = build_classifier(ModelSpec(name="keras_mobilenet_v3_small", width=0.75), InputSpec(32, 32, 3), 3)
    momenta = {l.momentum for l in model.layers if isinstance(l, keras.layers.BatchNormalization)}
    assert momenta == {FROM_SCRATCH_MOMENTUM}
