"""The metadata reader: a .tflite file's TFLite metadata (ours or any tool's) as plain data."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ..errors import UserInputError
from ..metadata_schema import metadata_schema_generated as fb
from .common import FLATBUFFER_ERRORS, METADATA_NAME, as_text, enum_names, litert_schema


def _read_input(model: Union[str, Path, bytes, bytearray]) -> Tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), "model"
    path = Path(model)
    try:
        return path.read_bytes(), str(path)
    except OSError as e:
        raise UserInputError(f"{path}: cannot read the model ({e.strerror or e})") from None


def _metadata_buffer(data: bytes, where: str) -> Optional[bytes]:
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserInputError(f"{where}: not a TFLite model (no TFL3 identifier)")
    try:
        model = litert_schema().Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if as_text(entry.Name()) == METADATA_NAME:
                buf = model.Buffers(entry.Buffer())
                if buf.DataLength():
                    return buf.DataAsNumpy().tobytes()
                return data[buf.Offset():buf.Offset() + buf.Size()]  # large models: after the flatbuffer
    except FLATBUFFER_ERRORS as e:
        raise UserInputError(f"{where}: unreadable TFLite flatbuffer ({type(e).__name__}); "
                             "export the model again") from None
    return None


def packed_files(data: bytes) -> Dict[str, bytes]:
    """Files packed into a .tflite (the zip archive appended after the flatbuffer), by name."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _floats(values) -> Optional[List[float]]:
    return None if values is None else [float(v) for v in values]


def _files(files) -> List[dict]:
    names = enum_names(fb.AssociatedFileType)
    return [{"name": as_text(f.name), "description": as_text(f.description),
             "type": names.get(f.type, str(f.type)), "locale": as_text(f.locale)} for f in files or []]


def _tensor_dict(t) -> dict:
    content = t.content
    kind = content.contentPropertiesType if content is not None else fb.ContentProperties.NONE
    props = content.contentProperties if content is not None else None
    out = {"name": as_text(t.name), "description": as_text(t.description),
           "content": {fb.ContentProperties.FeatureProperties: "feature",
                       fb.ContentProperties.ImageProperties: "image",
                       fb.ContentProperties.BoundingBoxProperties: "bounding_box",
                       fb.ContentProperties.AudioProperties: "audio"}.get(kind),
           "range": ([content.range.min, content.range.max] if content is not None and content.range else None),
           "color_space": None, "default_size": None, "bounding_box": None, "mean": None, "std": None,
           "stats": {"min": _floats(t.stats.min), "max": _floats(t.stats.max)} if t.stats else None,
           "associated_files": _files(t.associatedFiles)}
    if kind == fb.ContentProperties.ImageProperties and props is not None:
        out["color_space"] = enum_names(fb.ColorSpaceType).get(props.colorSpace, "UNKNOWN")
        if props.defaultSize is not None:
            out["default_size"] = [int(props.defaultSize.width), int(props.defaultSize.height)]
    if kind == fb.ContentProperties.BoundingBoxProperties and props is not None:
        out["bounding_box"] = {
            "index": [int(v) for v in props.index] if props.index is not None else [],
            "type": enum_names(fb.BoundingBoxType).get(props.type, "UNKNOWN"),
            "coordinate_type": enum_names(fb.CoordinateType).get(props.coordinateType, "RATIO")}
    for unit in t.processUnits or []:
        if unit.optionsType == fb.ProcessUnitOptions.NormalizationOptions and unit.options is not None:
            out["mean"], out["std"] = _floats(unit.options.mean), _floats(unit.options.std)
    return out


def read_metadata(model: Union[str, Path, bytes, bytearray]) -> Optional[dict]:
    """The model's TFLite metadata as plain data (JSON-ready), or None when it has none.

    Keys: name, description, version, author, license, min_parser_version, inputs, outputs (one dict
    per tensor: name, description, content, color_space, default_size, mean, std, stats, range,
    bounding_box, associated_files), output_tensor_groups, associated_files, packed_files, labels
    (the first labels file an output names, read from the packed files) and task.
    """
    data, where = _read_input(model)
    raw = _metadata_buffer(data, where)
    if raw is None:
        return None
    if not fb.ModelMetadata.ModelMetadataBufferHasIdentifier(raw, 0):
        raise UserInputError(f"{where}: its {METADATA_NAME} buffer is not TFLite metadata (no M001 "
                             "identifier)")
    try:
        md = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAs(raw, 0))
        graph = (md.subgraphMetadata or [fb.SubGraphMetadataT()])[0]
        result = {"name": as_text(md.name), "description": as_text(md.description),
                  "version": as_text(md.version),
                  "author": as_text(md.author), "license": as_text(md.license),
                  "min_parser_version": as_text(md.minParserVersion),
                  "inputs": [_tensor_dict(t) for t in graph.inputTensorMetadata or []],
                  "outputs": [_tensor_dict(t) for t in graph.outputTensorMetadata or []],
                  "output_tensor_groups": [
                      {"name": as_text(g.name), "tensor_names": [as_text(n) for n in g.tensorNames or []]}
                      for g in graph.outputTensorGroups or []],
                  "associated_files": _files(md.associatedFiles)}
    except FLATBUFFER_ERRORS as e:
        raise UserInputError(f"{where}: unreadable TFLite metadata ({type(e).__name__}); "
                             "write it again") from None
    try:
        files = packed_files(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError,
            NotImplementedError) as e:  # what zipfile raises on damaged archives
        raise UserInputError(f"{where}: damaged packed files ({type(e).__name__}: {e}); "
                             "write the metadata again") from None
    outputs = result["outputs"]
    label_files = [f["name"] for out in outputs for f in out["associated_files"]
                   if f["type"] in ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS") and f["name"] in files]
    labels = parse_labels(files[label_files[0]].decode("utf-8", errors="replace")) if label_files else None
    task = ("detection" if any(o["content"] == "bounding_box" for o in outputs)
            else "classification" if len(outputs) == 1 else None)
    return {**result, "packed_files": sorted(files), "labels": labels, "task": task}


def parse_labels(text: str) -> List[str]:
    """Lines of a labels file; trailing blank lines dropped (a final newline is not a label)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines
