"""`model.weights: FILE`: pretrained weights into a backbone, matched layer by layer by name.

The source is a Keras weights file in the HDF5 layout (`save_weights(...h5)`, the `_no_top.h5`
files Keras publishes for its applications) or a whole model (.keras/.h5, for example another run's
checkpoints/trained.keras). Only the backbone is loaded; the task's head stays new (a new head for
the dataset's classes). Every weighted backbone layer must find its namesake with the same shapes,
else the file is for another architecture and the error names the first layer that does not match.

>>> load_backbone_weights(backbone, Path("mobilenet_v2_0.35_no_top.h5"), "model.weights")  # doctest: +SKIP
12
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserInputError


def _decode(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _read_h5(path: Path) -> dict:
    """{layer name: [arrays]} from a Keras HDF5 weights or model file."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise UserInputError(f"{path}: an HDF5 file without Keras weights (no layer_names); give the "
                                 "file from model.save_weights(...h5) or model.save(...)")
        for name in (_decode(n) for n in root.attrs["layer_names"]):
            group = root[name]
            out[name] = [np.asarray(group[_decode(w)]) for w in group.attrs.get("weight_names", [])]
    return out


def read_weights(path: Path) -> dict:
    """{layer name: [arrays]} of a weights or model file; one-line errors for what is not one."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: weights file not found")
    if path.suffix in (".h5", ".hdf5"):
        try:
            return _read_h5(path)
        except UserInputError:
            raise
        except (OSError, KeyError, ValueError) as e:
            raise UserInputError(f"{path}: not a readable Keras weights file ({str(e)[:120]})") from None
    if path.suffix == ".keras":
        from ..model_io import load_keras_model

        model = load_keras_model(path)
        out = {}
        _collect(model, out)
        return out
    raise UserInputError(f"{path}: expected Keras weights (.h5) or a Keras model (.keras, .h5)")


def _collect(model, out: dict) -> None:
    for layer in model.layers:
        if hasattr(layer, "layers"):  # nested models (a backbone inside a classifier)
            _collect(layer, out)
        elif layer.weights:
            out[layer.name] = layer.get_weights()


def load_backbone_weights(backbone, path: Path, where: str) -> int:
    """Set every weighted layer of `backbone` from `path` by name; returns how many were set."""
    source = read_weights(path)
    weighted = [layer for layer in backbone.layers if layer.weights]
    for layer in weighted:
        values = source.get(layer.name)
        if values is None:
            raise UserInputError(f"{where}: {path} has no layer '{layer.name}' (the first backbone layer "
                                 f"that does not match); it holds weights for another architecture or width")
        want = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if want != got:
            raise UserInputError(f"{where}: layer '{layer.name}' has weights of shape {got} in {path}, the model "
                                 f"needs {want}; the file is for another architecture, width or channel count")
        layer.set_weights(values)
    return len(weighted)


def apply_backbone_weights(inputs, features: dict, spec, where: str = "model.weights") -> int:
    """`spec.weights` into the backbone (input -> features["last"]) just built; 0 when none.

    'imagenet' is handled by a keras application's constructor; our own backbones have none."""
    from .registry import MODELS

    if spec.weights is None:
        return 0
    if spec.weights == "imagenet":
        if spec.name not in MODELS or not MODELS.meta(spec.name).get("preprocessing"):
            raise UserInputError(f"{where}: no ImageNet weights exist for '{spec.name}'; use a keras_* model "
                                 "(tflite-edge list) or give a weights file")
        return 0
    from .. import compat

    backbone = compat.keras().Model(inputs, features["last"])
    return load_backbone_weights(backbone, Path(spec.weights), where)
