"""TFLite Model Metadata: labels, input normalisation and output layout inside the .tflite file,
what the LiteRT/TFLite Task Library, ML Kit custom models and MediaPipe Tasks read.

>>> info = ModelInfo(name="shapes", task="classification", labels=("circle", "square", "star"))
>>> data = add_metadata(Path("shapes_float32.tflite").read_bytes(), info)  # doctest: +SKIP
>>> read_metadata(data)["labels"]                                          # doctest: +SKIP
['circle', 'square', 'star']

Written as the official MetadataPopulator of tflite-support does (tflite-support itself requires
protobuf<4 and cannot install beside tensorflow 2.21): a ModelMetadata flatbuffer (identifier M001,
bindings generated from the published schema in metadata_schema/) in a model buffer that the
model's `metadata` list names TFLITE_METADATA, `min_parser_version` set, and labels.txt appended to
the model as a zip archive (stored, uncompressed: runtimes map it). Tensor names and descriptions
are those of the official ImageClassifierWriter / ObjectDetectorWriter: the Task Library finds a
detector's outputs by the names location, category, score and number of detections.
"""
from .common import DETECTION_NAMES, DETECTION_ROLES, LABELS_FILE, METADATA_NAME, detection_output_roles
from .reader import packed_files, parse_labels, read_metadata
from .writer import ModelInfo, add_metadata

__all__ = ["DETECTION_NAMES", "DETECTION_ROLES", "LABELS_FILE", "METADATA_NAME", "ModelInfo", "add_metadata",
           "detection_output_roles", "packed_files", "parse_labels", "read_metadata"]
