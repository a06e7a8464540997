"""Makes the models in this folder: tiny models whose TFLite metadata the OFFICIAL tflite-support
writers wrote, so tests read and run models made by another tool. Two steps, two environments
(tflite-support cannot install beside the pinned stack):

    .venv/bin/python tests/golden/metadata/make_goldens.py build /tmp/goldens
    /tmp/tfls/bin/python tests/golden/metadata/make_goldens.py official /tmp/goldens tests/golden/metadata

where /tmp/tfls is a venv with flatbuffers, numpy, absl-py and `pip install --no-deps
tflite-support==0.4.4` (plus Debian's libusb-1.0-0 for its native module).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

LABELS = ["circle", "square"]
# Detector: three anchors (ycenter, xcenter, h, w); zero box encodings decode to the anchors.
ANCHORS = [[0.25, 0.25, 0.3, 0.3], [0.7, 0.6, 0.4, 0.5], [0.5, 0.5, 0.2, 0.2]]
# Class logits per anchor (background first): sigmoid gives circle 0.953, square 0.818, circle 0.182.
LOGITS = [[-5.0, 3.0, -5.0], [-5.0, -5.0, 1.5], [-5.0, -1.5, -5.0]]


def build(out: Path) -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import numpy as np

    from tflite_edge import compat

    tf, keras = compat.tf(), compat.keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    out.mkdir(parents=True, exist_ok=True)

    inp = keras.Input((16, 16, 3), name="image")
    x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, strides=2, activation="relu")(inp))
    classifier = keras.Model(inp, L.Softmax()(L.Dense(len(LABELS))(x)))
    calibration = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(classifier)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.uint8
    (out / "classifier_uint8.tflite").write_bytes(conv.convert())

    a, c = len(ANCHORS), len(LABELS) + 1
    inp = keras.Input((32, 32, 3), batch_size=1, name="image")
    flat = L.GlobalAveragePooling2D()(inp)
    boxes = L.Reshape((a, 4))(L.Dense(a * 4, kernel_initializer="zeros")(flat))
    logits = L.Dense(a * c, kernel_initializer="zeros",
                     bias_initializer=keras.initializers.Constant(np.ravel(LOGITS)))(flat)
    heads = keras.Model(inp, [boxes, L.Reshape((a, c))(logits)])
    attrs = " ".join([
        'name: "TFLite_Detection_PostProcess"',
        'attr { key: "max_detections" value { i: 3 } }',
        'attr { key: "max_classes_per_detection" value { i: 1 } }',
        'attr { key: "detections_per_class" value { i: 100 } }',
        'attr { key: "use_regular_nms" value { b: false } }',
        'attr { key: "nms_score_threshold" value { f: 0.1 } }',
        'attr { key: "nms_iou_threshold" value { f: 0.5 } }',
        'attr { key: "y_scale" value { f: 10.0 } }', 'attr { key: "x_scale" value { f: 10.0 } }',
        'attr { key: "h_scale" value { f: 5.0 } }', 'attr { key: "w_scale" value { f: 5.0 } }',
        f'attr {{ key: "num_classes" value {{ i: {len(LABELS)} }} }}',
    ])

    @tf.function(experimental_implements=attrs)
    def postprocess(box_encodings, class_predictions, anchors):  # replaced by the op
        zero = tf.constant(0.0, dtype=tf.float32)
        return zero, zero, zero, zero

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 3], tf.float32, name="image")])
    def serve(image):
        enc, scores = heads(image, training=False)
        return postprocess(enc, tf.sigmoid(scores), tf.constant(ANCHORS, tf.float32))

    module = tf.Module()
    module.model, module.serve = heads, serve
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=serve.get_concrete_function())
        conv = tf.lite.TFLiteConverter.from_saved_model(folder)
        conv.allow_custom_ops = True
        data = conv.convert()
    (out / "detector_float32.tflite").write_bytes(data)  # the converter's output order
    (out / "detector_float32_op_order.tflite").write_bytes(in_op_order(data))


def in_op_order(data: bytes) -> bytes:
    """The model with its outputs in the postprocess op's order (boxes, classes, scores, count),
    as TF1 Object Detection API models have them: the official ObjectDetectorWriter assumes it,
    and the TF2 converter reorders them."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    sub = model.subgraphs[0]
    op = next(op for op in sub.operators
              if model.operatorCodes[op.opcodeIndex].customCode == b"TFLite_Detection_PostProcess")
    sub.outputs = list(op.outputs)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def official(src: Path, dst: Path) -> None:
    from tensorflow_lite_support.metadata.python.metadata_writers import image_classifier, object_detector

    with tempfile.TemporaryDirectory() as folder:
        labels = Path(folder) / "labels.txt"
        labels.write_text("".join(f"{name}\n" for name in LABELS))
        for name, module in (("classifier_uint8", image_classifier),
                             ("detector_float32_op_order", object_detector)):
            writer = module.MetadataWriter.create_for_inference(
                (src / f"{name}.tflite").read_bytes(), [127.5], [127.5], [str(labels)])
            (dst / f"official_{name}.tflite").write_bytes(writer.populate())
    (dst / "detector_float32.tflite").write_bytes((src / "detector_float32.tflite").read_bytes())


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        build(Path(sys.argv[2]))
    else:
        official(Path(sys.argv[2]), Path(sys.argv[3]))
