"""The metadata writer: ModelInfo -> TFLite metadata inside the model (see the package docstring)."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ..errors import UserInputError
from ..metadata_schema import metadata_schema_generated as fb
from ..tasks import task_module
from .common import COLOR_SPACES, LABELS_FILE, METADATA_NAME, TASKS, as_text, enum_names, litert_schema, unpack_model

_LABELS_TEXT = "Labels for categories that the model can recognize."
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model and info give the same bytes


@dataclass(frozen=True)
class ModelInfo:
    """What the metadata says. Pixels map to the model's input as (pixel - mean) / std from 0..255,
    per channel (one value applies to every channel). For detection the model's four outputs are
    those of TFLite_Detection_PostProcess (boxes, classes, scores, count)."""

    name: str
    task: str
    labels: Tuple[str, ...]
    mean: Tuple[float, ...] = (127.5,)
    std: Tuple[float, ...] = (127.5,)
    color_space: str = "RGB"
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""

    def __post_init__(self):
        for field in ("labels", "mean", "std"):  # lists in, tuples kept: frozen means hashable
            object.__setattr__(self, field, tuple(getattr(self, field)))
        if self.task not in TASKS:
            raise UserInputError(f"metadata task {self.task!r}: expected one of {', '.join(TASKS)}")
        if self.color_space not in COLOR_SPACES:
            raise UserInputError(f"metadata color_space {self.color_space!r}: expected RGB or GRAYSCALE")
        if not self.labels or any(not str(label).strip() or "\n" in str(label) or "\r" in str(label)
                                  for label in self.labels):
            raise UserInputError(f"metadata labels {list(self.labels)[:5]}: need at least one label, "
                                 "each a non-empty single line")
        if not self.mean or len(self.mean) != len(self.std) or any(s == 0 for s in self.std):
            raise UserInputError(f"metadata mean {self.mean} / std {self.std}: need the same number of "
                                 "values (one, or one per channel) and no zero std")

    @classmethod
    def from_input_spec(cls, spec, labels: Sequence[str], task: str, name: str, description: str = "",
                        version: str = "", author: str = "", license: str = "") -> "ModelInfo":
        """From a run's input_spec.json (tflite_edge.models.classifier.InputSpec) and labels.txt.

        >>> spec = InputSpec(height=96, width=96, channels=3)                       # doctest: +SKIP
        >>> ModelInfo.from_input_spec(spec, ["cat", "dog"], "classification", "pets")  # doctest: +SKIP
        """
        channels = int(spec.channels)

        def per_channel(value) -> Tuple[float, ...]:
            values = tuple(float(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
            return values * channels if len(values) == 1 else values

        kind = task_module(task, "metadata").KIND
        return cls(name=name, task=task, labels=tuple(labels), mean=per_channel(spec.mean),
                   std=per_channel(spec.std), color_space="RGB" if channels == 3 else "GRAYSCALE",
                   description=description or f"{kind.capitalize()} for {len(labels)} classes, made with "
                   "tflite-edge.", version=version, author=author, license=license)


def tensor_md(name: str, description: str, content_type: int, props) -> "fb.TensorMetadataT":
    t = fb.TensorMetadataT()
    t.name, t.description = name, description
    t.content = fb.ContentT()
    t.content.contentPropertiesType, t.content.contentProperties = content_type, props
    return t


def labels_file(file_type: int) -> "fb.AssociatedFileT":
    f = fb.AssociatedFileT()
    f.name, f.description, f.type = LABELS_FILE, _LABELS_TEXT, file_type
    return f


def stats_md(low: Sequence[float], high: Sequence[float]) -> "fb.StatsT":
    stats = fb.StatsT()
    stats.min, stats.max = [float(v) for v in low], [float(v) for v in high]
    return stats


def _input_md(tensor, info: ModelInfo, schema) -> "fb.TensorMetadataT":
    shape = [int(v) for v in tensor.shape]
    channels = 3 if info.color_space == "RGB" else 1
    if len(shape) != 4 or shape[3] != channels:
        raise UserInputError(f"model input shape {shape}: {info.color_space} image metadata needs "
                             f"[1, height, width, {channels}]")
    if len(info.mean) not in (1, channels):
        raise UserInputError(f"metadata mean {info.mean}: give 1 or {channels} values")
    props = fb.ImagePropertiesT()
    props.colorSpace = getattr(fb.ColorSpaceType, info.color_space)
    props.defaultSize = fb.ImageSizeT()
    props.defaultSize.width, props.defaultSize.height = shape[2], shape[1]
    description = f"Input image to be {task_module(info.task, 'metadata').VERB}."
    type_name = enum_names(schema.TensorType).get(tensor.type, str(tensor.type))
    q = tensor.quantization
    if type_name in ("UINT8", "INT8", "INT16"):
        # The quantisation stays in the tensor (as the official writers leave it); the text and the
        # stats say how pixels get there: normalise with mean/std, then quantise.
        dtype = np.dtype(type_name.lower())
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else 0.0
        zero = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        description += (f" {type_name.lower()} input: x = (pixel - mean) / std, then q = round(x / scale) + "
                        f"zero_point with this tensor's quantization (scale {scale:.9g}, zero point {zero}).")
        stats = stats_md([np.iinfo(dtype).min], [np.iinfo(dtype).max])
    else:
        stats = stats_md([(0.0 - m) / s for m, s in zip(info.mean, info.std)],
                       [(255.0 - m) / s for m, s in zip(info.mean, info.std)])
    t = tensor_md("image", description, fb.ContentProperties.ImageProperties, props)
    norm = fb.ProcessUnitT()
    norm.optionsType = fb.ProcessUnitOptions.NormalizationOptions
    norm.options = fb.NormalizationOptionsT()
    norm.options.mean, norm.options.std = [float(v) for v in info.mean], [float(v) for v in info.std]
    t.processUnits, t.stats = [norm], stats
    return t


def _metadata_flatbuffer(model, info: ModelInfo) -> bytes:
    import flatbuffers

    sub = model.subgraphs[0]
    if len(sub.inputs) != 1:
        raise UserInputError(f"model has {len(sub.inputs)} inputs: image metadata needs one image input")
    graph = fb.SubGraphMetadataT()
    graph.inputTensorMetadata = [_input_md(sub.tensors[sub.inputs[0]], info, litert_schema())]
    layout = task_module(info.task, "metadata")  # tasks/NAME/metadata.py: the task's outputs
    graph.outputTensorMetadata = layout.outputs(model, sub, info)
    groups = layout.output_groups()
    if groups:
        graph.outputTensorGroups = groups
    md = fb.ModelMetadataT()
    # empty texts are left out, as the official writers leave out what they are not given
    md.name, md.description, md.version = info.name, info.description or None, info.version or None
    md.author, md.license = info.author or None, info.license or None
    md.subgraphMetadata = [graph]
    # The highest schema version among the fields written: tensor groups came in 1.2.0, all the
    # others in 1.0.0 (the official populator computes the same in metadata_version.cc).
    md.minParserVersion = "1.2.0" if groups else "1.0.0"
    builder = flatbuffers.Builder(0)
    builder.Finish(md.Pack(builder), b"M001")
    return bytes(builder.Output())


def add_metadata(tflite_bytes: bytes, info: ModelInfo) -> bytes:
    """The model with `info` as TFLite metadata and labels.txt packed in; metadata it already had
    (and files packed with it) is replaced. Other metadata entries and signatures are kept."""
    import flatbuffers

    raw = bytes(tflite_bytes)
    model = unpack_model(raw, "model")
    for b in model.buffers or []:
        # Weights after the flatbuffer (offset/size: ai-edge-quantizer writes them so above 256 KB)
        # move inside it; only a model over 2 GB needs them outside.
        if b.offset:
            if len(raw) >= 2**31 - 2**20:
                raise UserInputError("model: weights stored outside the flatbuffer (models over 2 GB) are not "
                                     "supported for metadata")
            b.data = np.frombuffer(raw[b.offset:b.offset + b.size], dtype=np.uint8)
            b.offset = b.size = 0
    s = litert_schema()
    data = s.BufferT()
    data.data = np.frombuffer(_metadata_flatbuffer(model, info), dtype=np.uint8)
    model.buffers = list(model.buffers or [])
    model.metadata = list(model.metadata or [])
    old = [m for m in model.metadata if as_text(m.name) == METADATA_NAME]
    if old:  # replaced in place, as the official populator does
        model.buffers[old[0].buffer] = data
    else:
        model.buffers.append(data)
        entry = s.MetadataT()
        entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    out = io.BytesIO(bytes(builder.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:  # appended after the flatbuffer, as the populator does
        archive.writestr(zipfile.ZipInfo(LABELS_FILE, date_time=_ZIP_TIME),
                         "".join(f"{label}\n" for label in info.labels))
    return out.getvalue()

