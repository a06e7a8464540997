"""Detection `evaluate`: COCO mAP of the Keras model and of every artifact on the test split.

Four-output artifacts are read as the app would read them; raw artifacts and Keras are decoded
with the Python postprocess (same rules as the op), so the numbers compare like for like.
"""
from __future__ import annotations

import numpy as np

from .export import OUTPUTS
from .metrics import coco_map
from .model import detector_for
from .pipeline import eval_images
from .postprocess import detect


def keras_detections(model, det, split, input_spec, spec) -> list:
    anchors, out = det.anchors(), []
    for batch in eval_images(split, input_spec):
        enc, scores = det.postprocess_inputs(*model(batch, training=False))
        out += [detect(e, s, anchors, det.scales, spec) for e, s in zip(enc.numpy(), scores.numpy())]
    return out


def tflite_detections(path, variant: str, det, split, input_spec, spec) -> list:
    """Detections of a .tflite detector, one image at a time (batch is static 1)."""
    from ...runtime import dequantize, make_interpreter, quantize_input, signature_outputs

    interp, _ = make_interpreter(str(path), 2)
    inp = interp.get_input_details()[0]
    # by signature name, not position: the converter reorders the outputs
    sig = signature_outputs(interp)
    details = {d["index"]: d for d in interp.get_output_details()}
    outs = [details[sig[name]] for name in OUTPUTS[variant]]
    anchors, found = det.anchors(), []
    for batch in eval_images(split, input_spec):
        for image in batch:
            interp.set_tensor(inp["index"], quantize_input(image[None], inp))
            interp.invoke()
            vals = [dequantize(interp.get_tensor(o["index"]), o)[0] for o in outs]
            if variant == "raw":  # the heads' outputs: score activation and decoding happen here
                enc, scores = det.postprocess_inputs(vals[0][None], vals[1][None])
                found.append(detect(np.asarray(enc)[0], np.asarray(scores)[0], anchors, det.scales, spec))
            else:
                boxes, classes, scores, count = vals
                n = int(count)
                found.append((np.clip(boxes[:n], 0, 1), classes[:n].astype(np.int64), scores[:n]))
    return found


def _gates(spec, keras_map50, results) -> list:
    from ...gates import at_least, at_most_drop, edgetpu_gates

    gates = [g for a in results for g in edgetpu_gates(spec, a)]
    gates += at_least("min_keras_map50", keras_map50, spec.min_keras_map50)
    for a in results:
        gates += at_most_drop(f"max_map50_drop[{a['name']}]", keras_map50, a["map50"], spec.max_map50_drop)
    return gates


def evaluate(ctx) -> dict:
    r, d, spec = ctx.recipe, ctx.dataset, ctx.input_spec
    det = detector_for(r, spec, d.num_classes)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    keras = coco_map(d.test, keras_detections(model, det, d.test, spec, r.detector), d.num_classes)
    ctx.log(f"  keras: mAP {keras['map']:.4f}, mAP@.5 {keras['map50']:.4f}")
    results = []
    for art in ctx.outputs("convert")["artifacts"]:
        if art.get("runs_on") == "coral":  # compiled for the Edge TPU: not runnable on the host
            continue
        found = tflite_detections(ctx.path(art["path"]), art["detection_outputs"], det, d.test, spec, r.detector)
        m = coco_map(d.test, found, d.num_classes)
        results.append({"name": art["name"], "format": art["format"], "edgetpu_check": art.get("edgetpu_check"),
                        "accuracy": None, "agreement_with_keras": None, **m})
        ctx.log(f"  {art['name']}: mAP {m['map']:.4f}, mAP@.5 {m['map50']:.4f}")
    return {"keras": {**keras, "accuracy": None, "test_samples": len(d.test)}, "artifacts": results,
            "gates": _gates(r.evaluate, keras["map50"], results), "data_counts": dict(d.counts)}
