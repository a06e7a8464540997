"""TFLite Model Metadata: written by tflite_edge.metadata, read back WITHOUT it (the flatc-generated
schema bindings and zipfile, the way the official MetadataDisplayer reads), on tiny models converted
here and on models whose metadata the official tflite-support writers wrote (tests/golden/metadata)."""
from __future__ import annotations

import functools
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.metadata import ModelInfo, add_metadata, read_metadata
from tflite_edge.metadata_schema import metadata_schema_generated as fb

GOLDEN = Path(__file__).parent / "golden" / "metadata"
LABELS = ("circle", "square", "star")
MEAN, STD = (120.0, 110.0, 100.0), (60.0, 50.0, 40.0)
INFO = ModelInfo(name="tiny_shapes", task="classification", labels=LABELS, mean=MEAN, std=STD,
                 description="Tiny test classifier.", version="v3", author="tests <t@example.org>",
                 license="Apache-2.0")


@functools.lru_cache(maxsize=None)
def tiny_classifier():
    """(keras model, {"float32": bytes, "int8": bytes}): 16x16x3, one conv + dense, 3 classes; the
    int8 model has int8 input and output. Built once per test session (test_predict shares it)."""
    from tflite_edge import compat

    tf, keras = compat.tf(), compat.keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Softmax()(keras.layers.Dense(3)(x)))
    calibration = np.random.default_rng(0).uniform(-3, 4, (8, 16, 16, 3)).astype(np.float32)
    out = {}
    for fmt in ("float32", "int8"):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if fmt == "int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
        with compat.quiet_native_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "statistics for quantized inputs": not needed here
            out[fmt] = conv.convert()
    return model, out


# ------------------------------------------------------------- an independent reader
def _model(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    return schema.Model.GetRootAs(data, 0)


def independent_metadata(data: bytes):
    """(ModelMetadataT, {file: bytes}, metadata entry names) read with the generated bindings."""
    m = _model(data)
    names = [m.Metadata(i).Name().decode() for i in range(m.MetadataLength())]
    entry = m.Metadata(names.index("TFLITE_METADATA"))
    raw = m.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    assert fb.ModelMetadata.ModelMetadataBufferHasIdentifier(raw, 0)
    md = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAs(raw, 0))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())  # runtimes map it
        files = {name: archive.read(name) for name in archive.namelist()}
    return md, files, names


def _run(data: bytes, x: np.ndarray) -> list:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _signatures(data: bytes) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=data).get_signature_list()


def _input_quantization(data: bytes):
    from ai_edge_litert.interpreter import Interpreter

    d = Interpreter(model_content=data).get_input_details()[0]
    return d["dtype"], d["quantization"]


@pytest.mark.parametrize("fmt", ["float32", "int8"])
def test_classifier_metadata_reads_back_field_by_field(fmt):
    plain = tiny_classifier()[1][fmt]
    data = add_metadata(plain, INFO)
    md, files, entries = independent_metadata(data)

    assert (md.name, md.description, md.version) == (b"tiny_shapes", b"Tiny test classifier.", b"v3")
    assert (md.author, md.license, md.minParserVersion) == (b"tests <t@example.org>", b"Apache-2.0", b"1.0.0")
    assert len(md.subgraphMetadata) == 1
    graph = md.subgraphMetadata[0]
    (image,), (probs,) = graph.inputTensorMetadata, graph.outputTensorMetadata

    assert image.name == b"image"
    assert image.content.contentPropertiesType == fb.ContentProperties.ImageProperties
    props = image.content.contentProperties
    assert props.colorSpace == fb.ColorSpaceType.RGB
    assert (props.defaultSize.width, props.defaultSize.height) == (16, 16)
    (unit,) = image.processUnits
    assert unit.optionsType == fb.ProcessUnitOptions.NormalizationOptions
    assert list(unit.options.mean) == list(MEAN) and list(unit.options.std) == list(STD)
    dtype, (scale, zero_point) = _input_quantization(data)
    if fmt == "float32":
        assert image.description == b"Input image to be classified."
        assert np.allclose(image.stats.min, [-2.0, -2.2, -2.5])  # (0 - mean) / std
        assert np.allclose(image.stats.max, [2.25, 2.9, 3.875])  # (255 - mean) / std
    else:  # the quantisation stays in the tensor; the text says how pixels get there
        assert dtype == np.int8 and scale > 0
        assert b"int8 input: x = (pixel - mean) / std, then q = round(x / scale) + zero_point" in image.description
        assert f"(scale {scale:.9g}, zero point {zero_point})".encode() in image.description
        assert list(image.stats.min) == [-128.0] and list(image.stats.max) == [127.0]

    assert probs.name == b"probability" and probs.description == b"Probabilities of the 3 labels respectively."
    assert probs.content.contentPropertiesType == fb.ContentProperties.FeatureProperties
    assert list(probs.stats.min) == [0.0] and list(probs.stats.max) == [1.0]
    (labels_file,) = probs.associatedFiles
    assert labels_file.name == b"labels.txt" and labels_file.type == fb.AssociatedFileType.TENSOR_AXIS_LABELS
    assert labels_file.description == b"Labels for categories that the model can recognize."
    assert files == {"labels.txt": b"circle\nsquare\nstar\n"}

    # the model itself is untouched: converter metadata, signature, and what it computes
    assert entries == ["min_runtime_version", "CONVERSION_METADATA", "TFLITE_METADATA"]
    x = np.random.default_rng(1).integers(-128, 127, (1, 16, 16, 3)).astype(dtype)
    assert all(np.array_equal(a, b) for a, b in zip(_run(plain, x), _run(data, x)))
    assert _signatures(data) == _signatures(plain) == {"serving_default": {"inputs": ["image"],
                                                                           "outputs": ["softmax"]}}


def test_our_reader_agrees_with_the_independent_one():
    data = add_metadata(tiny_classifier()[1]["int8"], INFO)
    md = read_metadata(data)
    assert {k: md[k] for k in ("name", "description", "version", "author", "license", "min_parser_version",
                               "labels", "task", "packed_files")} == {
        "name": "tiny_shapes", "description": "Tiny test classifier.", "version": "v3",
        "author": "tests <t@example.org>", "license": "Apache-2.0", "min_parser_version": "1.0.0",
        "labels": list(LABELS), "task": "classification", "packed_files": ["labels.txt"]}
    (image,), (probs,) = md["inputs"], md["outputs"]
    assert (image["mean"], image["std"], image["color_space"], image["default_size"]) == (
        list(MEAN), list(STD), "RGB", [16, 16])
    assert probs["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"
    assert read_metadata(tiny_classifier()[1]["int8"]) is None


def test_adding_again_replaces_and_is_byte_identical():
    plain = tiny_classifier()[1]["float32"]
    once = add_metadata(plain, INFO)
    assert add_metadata(plain, INFO) == once  # fixed zip timestamps: same input, same bytes
    relabelled = ModelInfo.from_input_spec(_spec(16, 16, 3), ["a", "b", "c"], "classification", "again")
    twice = add_metadata(once, relabelled)
    md, files, entries = independent_metadata(twice)
    assert md.name == b"again" and files == {"labels.txt": b"a\nb\nc\n"}
    assert entries.count("TFLITE_METADATA") == 1
    assert _model(twice).BuffersLength() == _model(once).BuffersLength()


def _spec(height, width, channels, mean=127.5, std=127.5):
    from tflite_edge.models.classifier import InputSpec

    return InputSpec(height=height, width=width, channels=channels, mean=mean, std=std)


def test_model_info_from_input_spec():
    info = ModelInfo.from_input_spec(_spec(16, 16, 3, mean=0.0, std=255.0), ["x", "y"], "detection", "det",
                                     author="me")
    assert (info.mean, info.std, info.color_space) == ((0.0,) * 3, (255.0,) * 3, "RGB")
    assert info.description == "Object detector for 2 classes, made with tflite-edge."
    grey = ModelInfo.from_input_spec(_spec(28, 28, 1), ["0", "1"], "classification", "digits",
                                     description="Digits.")
    assert (grey.mean, grey.color_space, grey.description) == ((127.5,), "GRAYSCALE", "Digits.")


# ------------------------------------------------------------- detection: four outputs
def test_detection_metadata_follows_the_converters_output_order():
    plain = (GOLDEN / "detector_float32.tflite").read_bytes()  # outputs as the TF2 converter orders them
    data = add_metadata(plain, ModelInfo(name="det", task="detection", labels=("circle", "square")))
    md, files, _ = independent_metadata(data)
    graph = md.subgraphMetadata[0]
    assert md.minParserVersion == b"1.2.0" and files == {"labels.txt": b"circle\nsquare\n"}
    outputs = dict(zip((t.name.decode() for t in graph.outputTensorMetadata),
                       _run(data, np.zeros((1, 32, 32, 3), np.float32))))
    # the tensors the metadata names carry what the names say (see make_goldens.py for the values)
    assert outputs["location"].shape == (1, 3, 4)
    assert np.allclose(outputs["location"][0, 0], [0.1, 0.1, 0.4, 0.4], atol=1e-5)  # ymin xmin ymax xmax
    assert outputs["category"][0].tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(outputs["score"][0], [0.9526, 0.8176, 0.1824], atol=1e-4)
    assert outputs["number of detections"].tolist() == [3.0]

    by_name = {t.name: t for t in graph.outputTensorMetadata}
    box = by_name[b"location"].content
    assert box.contentPropertiesType == fb.ContentProperties.BoundingBoxProperties
    assert list(box.contentProperties.index) == [1, 0, 3, 2]
    assert box.contentProperties.type == fb.BoundingBoxType.BOUNDARIES
    assert box.contentProperties.coordinateType == fb.CoordinateType.RATIO
    for name in (b"location", b"category", b"score"):
        assert (by_name[name].content.range.min, by_name[name].content.range.max) == (2, 2)
    assert by_name[b"number of detections"].content.range is None
    (labels_file,) = by_name[b"category"].associatedFiles
    assert labels_file.type == fb.AssociatedFileType.TENSOR_VALUE_LABELS
    (group,) = graph.outputTensorGroups
    assert group.name == b"detection_result" and group.tensorNames == [b"location", b"category", b"score"]
    assert graph.inputTensorMetadata[0].description == b"Input image to be detected."


def test_reader_on_models_the_official_writers_made():
    cls = read_metadata(GOLDEN / "official_classifier_uint8.tflite")
    assert (cls["name"], cls["task"]) == ("ImageClassifier", "classification")
    assert cls["labels"] == ["circle", "square"]
    assert (cls["inputs"][0]["mean"], cls["inputs"][0]["std"]) == ([127.5], [127.5])
    det = read_metadata(GOLDEN / "official_detector_float32_op_order.tflite")
    assert [o["name"] for o in det["outputs"]] == ["location", "category", "score", "number of detections"]
    assert (det["task"], det["min_parser_version"]) == ("detection", "1.2.0")
    assert det["labels"] == ["circle", "square"]
    # ours replaces theirs, files included
    ours = add_metadata((GOLDEN / "official_detector_float32_op_order.tflite").read_bytes(),
                        ModelInfo(name="det", task="detection", labels=("ring", "box")))
    md, files, entries = independent_metadata(ours)
    assert md.name == b"det" and files == {"labels.txt": b"ring\nbox\n"}
    assert entries.count("TFLITE_METADATA") == 1


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, says", [
    ({"task": "segmentation"}, "expected one of classification, detection"),
    ({"labels": ()}, "need at least one label"),
    ({"labels": ("a", "b\nc")}, "each a non-empty single line"),
    ({"mean": (1.0, 2.0), "std": (1.0,)}, "same number of values"),
    ({"std": (0.0,)}, "no zero std"),
    ({"color_space": "BGR"}, "expected RGB or GRAYSCALE"),
])
def test_model_info_refuses(kwargs, says):
    with pytest.raises(UserInputError, match=says):
        ModelInfo(**{"name": "m", "task": "classification", "labels": ("a",), **kwargs})


def test_writer_refuses_what_does_not_fit_the_model():
    plain = tiny_classifier()[1]["float32"]
    with pytest.raises(UserInputError, match="one output of 2 scores, one per label"):
        add_metadata(plain, ModelInfo(name="m", task="classification", labels=("a", "b")))
    with pytest.raises(UserInputError, match="four outputs of TFLite_Detection_PostProcess"):
        add_metadata(plain, ModelInfo(name="m", task="detection", labels=LABELS))
    with pytest.raises(UserInputError, match=r"GRAYSCALE image metadata needs \[1, height, width, 1\]"):
        add_metadata(plain, ModelInfo(name="m", task="classification", labels=LABELS, color_space="GRAYSCALE"))
    with pytest.raises(UserInputError, match="not a TFLite model"):
        add_metadata(b"\x00" * 64, INFO)
    with pytest.raises(UserInputError, match="not a TFLite model"):
        read_metadata(b"PK\x03\x04" + b"\x00" * 60)
