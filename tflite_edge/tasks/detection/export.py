"""Detector -> TFLite: the four-output model with TFLite_Detection_PostProcess (boxes, classes,
scores, count: what Android and Coral apps expect) and a raw variant cut before the score
activation and the op (the heads' outputs; for the Edge TPU, decoded in Python).

The postprocess op has no TensorFlow kernel: an empty tf.function whose `experimental_implements`
names it is what the converter replaces with the custom op (STACK.md). Batch is fixed at 1.
"""
from __future__ import annotations

import numpy as np

from ... import compat
from ...export import Export

# Signature outputs of each variant, in the order the serving function returns them.
OUTPUTS = {"postprocess": ["detection_boxes", "detection_classes", "detection_scores", "num_detections"],
           "raw": ["box_encodings", "class_logits"]}


def _postprocess_stub(spec, num_classes: int, scales):
    tf = compat.tf()
    sy, sx, sh, sw = scales
    attrs = " ".join([
        'name: "TFLite_Detection_PostProcess"',
        f'attr {{ key: "max_detections" value {{ i: {spec.max_detections} }} }}',
        'attr { key: "max_classes_per_detection" value { i: 1 } }',
        'attr { key: "detections_per_class" value { i: 100 } }',
        'attr { key: "use_regular_nms" value { b: false } }',
        f'attr {{ key: "nms_score_threshold" value {{ f: {spec.score_threshold:f} }} }}',
        f'attr {{ key: "nms_iou_threshold" value {{ f: {spec.nms_iou:f} }} }}',
        f'attr {{ key: "y_scale" value {{ f: {sy:f} }} }}',
        f'attr {{ key: "x_scale" value {{ f: {sx:f} }} }}',
        f'attr {{ key: "h_scale" value {{ f: {sh:f} }} }}',
        f'attr {{ key: "w_scale" value {{ f: {sw:f} }} }}',
        f'attr {{ key: "num_classes" value {{ i: {num_classes} }} }}',
    ])

    @tf.function(experimental_implements=attrs)
    def postprocess(box_encodings, class_predictions, anchors):  # noqa: ARG001 (replaced by the op)
        zero = tf.constant(0.0, dtype=tf.float32)
        return zero, zero, zero, zero

    return postprocess


def serving_export(model, detector, spec, input_spec, num_classes: int, with_postprocess: bool) -> Export:
    """The detector traced once, batch 1: image -> (boxes, classes, scores, count), or, for the raw
    variant, the heads' own outputs (box encodings, class logits): cut before the score activation
    too, since the Edge TPU maps SOFTMAX only on 1-D tensors. Signature outputs are named after
    OUTPUTS[variant] in that order."""
    tf = compat.tf()
    anchors = detector.anchors().astype(np.float32)
    stub = _postprocess_stub(spec, num_classes, detector.scales) if with_postprocess else None
    names = OUTPUTS["postprocess" if with_postprocess else "raw"]

    def serve(image):
        box, logits = model(image, training=False)
        if stub is None:
            return dict(zip(names, (box, logits)))
        enc, scores = detector.postprocess_inputs(box, logits)
        return dict(zip(names, stub(enc, scores, tf.constant(anchors))))

    return Export(model, input_spec.shape, batch_size=1, serve=serve)


def postprocess_converter(conv) -> None:
    """Converter settings the TFLite_Detection_PostProcess custom op needs, after the format's."""
    tf = compat.tf()
    conv.allow_custom_ops = True
    if set(conv.target_spec.supported_ops) == {tf.lite.OpsSet.TFLITE_BUILTINS_INT8}:
        # the op's float outputs need the float builtins beside int8 (as in the TF OD API)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.inference_output_type = tf.float32  # boxes/classes/scores/count are float by contract


def convert_detector(model, detector, spec, input_spec, num_classes: int, fmt: str, calibration,
                     with_postprocess: bool) -> bytes:
    with serving_export(model, detector, spec, input_spec, num_classes, with_postprocess) as exported:
        return exported.convert(fmt, calibration, postprocess_converter if with_postprocess else None)
