"""Stage `evaluate`: accuracy of the Keras model and of every artifact on the whole test split,
top-1 agreement with Keras, and the recipe's quality gates."""
from __future__ import annotations

import numpy as np

from .bench.host_worker import make_interpreter, predict_classes
from .data.pipeline import numpy_batches


def tflite_predict(model_path, batches, threads: int = 2) -> np.ndarray:
    """Class predictions of a .tflite model over preprocessed float batches."""
    interp, _ = make_interpreter(str(model_path), threads)
    return predict_classes(interp, batches, str(model_path), threads)


def keras_predict(model, batches) -> np.ndarray:
    return np.concatenate([np.argmax(model(b, training=False).numpy(), axis=-1) for b in batches])


def check_gates(spec, keras_acc: float, artifacts: list) -> list:
    gates = []
    if spec.min_keras_accuracy is not None:
        gates.append({"name": "min_keras_accuracy", "value": keras_acc, "threshold": spec.min_keras_accuracy,
                      "passed": keras_acc >= spec.min_keras_accuracy})
    for a in artifacts:
        limit = spec.max_accuracy_drop_by_format.get(a["format"], spec.max_accuracy_drop)
        if limit is not None:
            drop = keras_acc - a["accuracy"]
            gates.append({"name": f"max_accuracy_drop[{a['name']}]", "value": drop, "threshold": limit,
                          "passed": drop <= limit + 1e-12})
        if spec.min_agreement is not None:
            gates.append({"name": f"min_agreement[{a['name']}]", "value": a["agreement_with_keras"],
                          "threshold": spec.min_agreement,
                          "passed": a["agreement_with_keras"] >= spec.min_agreement})
        check = a.get("edgetpu_check")
        if check is not None and spec.edgetpu_max_cpu_ops is not None:
            gates.append({"name": f"edgetpu_max_cpu_ops[{a['name']}]", "value": check["on_cpu"],
                          "threshold": spec.edgetpu_max_cpu_ops,
                          "passed": check["verdict"] != "not_compilable" and check["on_cpu"] <= spec.edgetpu_max_cpu_ops})
    return gates


def evaluate(ctx) -> dict:
    if ctx.recipe.task == "detection":
        from .detect.evaluate import evaluate as evaluate_detection
        return evaluate_detection(ctx)
    d, spec = ctx.dataset, ctx.input_spec
    labels = np.asarray(d.test_y)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    keras_pred = keras_predict(model, numpy_batches(d.test_x, d, spec))
    keras_acc = float(np.mean(keras_pred == labels))
    results = []
    for art in ctx.outputs("convert")["artifacts"]:
        if art.get("runs_on") == "coral":  # compiled for the Edge TPU: not runnable on the host
            continue
        pred = tflite_predict(ctx.path(art["path"]), numpy_batches(d.test_x, d, spec))
        results.append({"name": art["name"], "format": art["format"], "edgetpu_check": art.get("edgetpu_check"),
                        "accuracy": float(np.mean(pred == labels)),
                        "agreement_with_keras": float(np.mean(pred == keras_pred))})
        ctx.log(f"  {art['name']}: accuracy {results[-1]['accuracy']:.4f}, "
                f"agreement {results[-1]['agreement_with_keras']:.4f}")
    gates = check_gates(ctx.recipe.evaluate, keras_acc, results)
    return {"keras": {"accuracy": keras_acc, "test_samples": int(len(labels))},
            "artifacts": results, "gates": gates}
