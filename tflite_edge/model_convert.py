"""Your own Keras classifier to TFLite (`tflite-edge convert`, `tflite_edge.convert`), each artifact
with the TFLite Model Metadata and signature names a `run` gives its artifacts.

Normalisation, in this order: `mean`/`std` given; a Rescaling layer right after the model's input
(the model normalises itself, so the app feeds 0..255 pixels: mean 0, std 1); 127.5 / 127.5, said
on the output. Labels: `labels` given (a file or a list), else the class indices, said too.

>>> convert_model("clf.keras", ["int8"], "out/", calibration="photos/", labels="labels.txt")  # doctest: +SKIP
[{'path': 'out/clf_int8.tflite', 'format': 'int8', 'size_bytes': 10424, ...}]
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

from .errors import UserInputError
from .images import calibration_array

DEFAULT_NORMALISATION = (127.5, 127.5)
OUTPUT_NAME = "probs"  # the classifier output's signature name in every artifact, as in a run


def _labels(labels, classes: int, log: Callable) -> List[str]:
    from .metadata import parse_labels

    if labels is None:
        log(f"note: no labels given; the metadata labels are the class indices 0..{classes - 1} "
            "(give --labels FILE, one label per line)")
        return [str(i) for i in range(classes)]
    if isinstance(labels, (str, Path)):
        try:
            names = parse_labels(Path(labels).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise UserInputError(f"--labels {labels}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
        where = f"--labels {labels}"
    else:
        names, where = [str(v) for v in labels], "labels"
    if len(names) != classes:
        raise UserInputError(f"{where}: {len(names)} label(s) for a model with {classes} classes; give one "
                             "label per class, in the order of the model's outputs")
    return names


def convert_model(model, formats: Sequence[str], out: Union[str, Path], calibration=None,
                  labels=None, mean=None, std=None, calibration_samples: int = 200,
                  name: Optional[str] = None, trust_lambda: bool = False,
                  log: Callable = print) -> List[dict]:
    """Write `NAME_FORMAT.tflite` into `out` for every format; returns one dict per artifact."""
    from .export import CONVERTERS, artifact_name, convert_formats, write_artifact
    from .formats import NEEDS_CALIBRATION
    from .model_io import model_normalisation
    from .metadata import ModelInfo, add_metadata
    from .progress import steps

    formats = [formats] if isinstance(formats, str) else list(formats)
    if not formats:
        raise UserInputError("--format: give at least one format, e.g. int8")
    for f in formats:
        CONVERTERS.get(f)
    if (mean is None) != (std is None):
        raise UserInputError("--mean and --std go together: give both")
    if NEEDS_CALIBRATION & set(formats) and calibration is None:
        raise UserInputError(f"--format {','.join(formats)}: integer formats need --calibration DIR "
                             "(a folder of representative images)")
    if isinstance(model, (str, Path)):
        from .model_io import load_keras_model

        name = name or Path(model).stem
        where, model = str(model), load_keras_model(Path(model), trust_lambda=trust_lambda)
    else:
        name, where = name or getattr(model, "name", None) or "model", "model"
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4 or None in shape[1:] or shape[3] not in (1, 3):
        raise UserInputError(f"{where}: expected one image input of static shape (H, W, 1 or 3), got {shape}")
    if mean is not None:
        mean_std, source = (mean, std), "given"
    elif model_normalisation(model):
        mean_std, source = model_normalisation(model), "the model's Rescaling layer: 0..255 pixels in"
    else:
        mean_std, source = DEFAULT_NORMALISATION, "default; give --mean/--std if the model was trained otherwise"
    log(f"{where}: input {tuple(shape[1:])}, normalisation (pixel - {mean_std[0]:g}) / {mean_std[1]:g} ({source})")
    outputs = model.outputs
    classifier = len(outputs) == 1 and len(outputs[0].shape) == 2
    info = None
    if classifier:
        names = _labels(labels, int(outputs[0].shape[-1]), log)
        from .models.classifier import InputSpec

        spec = InputSpec(height=shape[1], width=shape[2], channels=shape[3], mean=mean_std[0], std=mean_std[1])
        info = ModelInfo.from_input_spec(spec, names, "classification", name=name)
    elif labels is not None:
        raise UserInputError(f"{where}: outputs {[tuple(o.shape) for o in outputs]}; labels apply to a classifier "
                             "(one output of class scores)")
    else:
        log(f"note: {where} is not a classifier (one (batch, classes) output); artifacts carry no metadata")
    data = None
    if NEEDS_CALIBRATION & set(formats):
        data = calibration_array(calibration, shape[1:4], *mean_std, calibration_samples)
    out = Path(out)
    artifacts = []
    progress = steps(len(formats), "convert")
    for fmt, tflite in convert_formats(model, formats, data, output_names=[OUTPUT_NAME] if classifier else ()):
        path = out / f"{artifact_name(name, fmt)}.tflite"
        if info is not None:
            tflite = add_metadata(tflite, info)
        artifacts.append({"path": str(path), **write_artifact(tflite, path, fmt), "metadata": info is not None})
        progress.advance(fmt)
    progress.close()
    return artifacts
