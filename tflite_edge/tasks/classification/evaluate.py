"""Classification `evaluate`: top-1 accuracy of the Keras model and of every artifact on the whole
test split, top-1 agreement with Keras, the gates; and the per-step measurement of `optimize`."""
from __future__ import annotations

import numpy as np

from ...data.pipeline import numpy_batches
from ...gates import at_least, at_most_drop, edgetpu_gates, gate
from ...runtime import make_interpreter, predict_classes


def tflite_predict(model_path, batches, threads: int = 2) -> np.ndarray:
    """Class predictions of a .tflite model over preprocessed float batches."""
    interp, _ = make_interpreter(str(model_path), threads)
    return predict_classes(interp, batches, str(model_path), threads)


def accuracy_gates(spec, keras_acc: float, artifacts: list) -> list:
    """The Keras accuracy, then per artifact its accuracy drop, its agreement and the Edge TPU gate."""
    gates = at_least("min_keras_accuracy", keras_acc, spec.min_keras_accuracy)
    for a in artifacts:
        limit = spec.max_accuracy_drop_by_format.get(a["format"], spec.max_accuracy_drop)
        gates += at_most_drop(f"max_accuracy_drop[{a['name']}]", keras_acc, a["accuracy"], limit)
        gates += at_least(f"min_agreement[{a['name']}]", a["agreement_with_keras"], spec.min_agreement)
        gates += edgetpu_gates(spec, a)
        if a.get("mixed"):  # the search's own bound, on the validation split (convert.mixed)
            m = a["mixed"]
            gates.append(gate(f"mixed_max_accuracy_drop[{a['name']}]", m["val_accuracy_drop"],
                              m["max_accuracy_drop"], bool(m["met"])))
    return gates


def keras_predict(model, batches) -> np.ndarray:
    """Class predictions of the final head (an adaptive model's last output)."""
    from .adaptive.exits import final_output

    return np.concatenate([np.argmax(final_output(model(b, training=False)).numpy(), axis=-1) for b in batches])


def evaluate(ctx) -> dict:
    d, spec = ctx.dataset, ctx.input_spec
    labels = np.asarray(d.test_y)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    keras_scores = None
    if ctx.recipe.adaptive is not None:  # every head's scores at once: the cascades need them too
        from .adaptive.evaluate import keras_scores as all_scores

        keras_scores = all_scores(model, numpy_batches(d.test_x, d, spec))
        keras_pred = np.argmax(keras_scores[-1], axis=-1)
    else:
        keras_pred = keras_predict(model, numpy_batches(d.test_x, d, spec))
    keras_acc = float(np.mean(keras_pred == labels))
    results, preds = [], {}
    for art in ctx.outputs("convert")["artifacts"]:
        if art.get("runs_on") == "coral":  # compiled for the Edge TPU: not runnable on the host
            continue
        pred = preds[art["format"]] = tflite_predict(ctx.path(art["path"]), numpy_batches(d.test_x, d, spec))
        results.append({"name": art["name"], "format": art["format"], "edgetpu_check": art.get("edgetpu_check"),
                        "accuracy": float(np.mean(pred == labels)),
                        "agreement_with_keras": float(np.mean(pred == keras_pred)),
                        **({"mixed": art["mixed"]} if "mixed" in art else {})})
        ctx.log(f"  {art['name']}: accuracy {results[-1]['accuracy']:.4f}, "
                f"agreement {results[-1]['agreement_with_keras']:.4f}")
    gates = accuracy_gates(ctx.recipe.evaluate, keras_acc, results)
    out = {"keras": {"accuracy": keras_acc, "test_samples": int(len(labels))}, "artifacts": results, "gates": gates}
    if ctx.recipe.adaptive is not None:
        from .adaptive.evaluate import evaluate_cascades

        out["cascades"] = evaluate_cascades(ctx, model, lambda: numpy_batches(d.test_x, d, spec), labels, preds,
                                            keras_scores)
    return out


def test_accuracy(ctx, model) -> float:
    d = ctx.dataset
    pred = keras_predict(model, numpy_batches(d.test_x, d, ctx.input_spec))
    return float(np.mean(pred == np.asarray(d.test_y)))


def measure(ctx, model, name: str) -> dict:
    """Test accuracy, weight statistics and float32 TFLite size of one optimize step's model."""
    from .adaptive.exits import final_model
    from ...export import convert_keras, gzip_size
    from ...weights import measure_weights

    data = convert_keras(final_model(model), "float32")  # what the full-model artifact holds
    return {"name": name, "accuracy": test_accuracy(ctx, model), **measure_weights(model),
            "size_bytes": len(data), "gzip_bytes": gzip_size(data)}
