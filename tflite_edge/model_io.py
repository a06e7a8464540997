"""Loading a user's Keras model safely (Lambda layers only when trusted); what it says of its input."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import compat
from .errors import UserInputError


def load_keras_model(path: Path, trust_lambda: bool = False):
    """Load a user's .keras/.h5 model in safe mode; Lambda layers refused unless trusted."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: model file not found")
    if path.suffix not in (".keras", ".h5", ".hdf5") and not path.is_dir():
        raise UserInputError(f"{path}: expected a Keras model (.keras, .h5 or a SavedModel folder)")
    keras = compat.keras()
    try:
        if path.suffix == ".keras":
            model = keras.models.load_model(path, compile=False, safe_mode=not trust_lambda)
        else:
            if not trust_lambda and path.is_file() and _h5_declares_lambda(path):
                raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                                     "--trust-lambda only if you trust the file")
            model = keras.models.load_model(path, compile=False)
    except UserInputError:
        raise
    except Exception as e:  # Keras raises many types for a bad file; all mean "not a model"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Lambda" in first or "safe_mode" in first:
            raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                                 "--trust-lambda only if you trust the file") from None
        raise UserInputError(f"{path}: not a loadable Keras model ({first[:160]})") from None
    if not trust_lambda and _has_lambda(model):
        raise UserInputError(f"{path}: contains a Lambda layer (arbitrary code); refused. Pass "
                             "--trust-lambda only if you trust the file")
    return model


def _h5_declares_lambda(path: Path) -> bool:
    """Look in the HDF5 model config before loading: building a Lambda layer runs its code."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
    except OSError:
        return False  # not HDF5: load_model reports it
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    return bool(config) and '"class_name": "Lambda"' in config


def _has_lambda(model) -> bool:
    keras = compat.keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.Lambda):
            return True
        if hasattr(layer, "layers") and _has_lambda(layer):
            return True
    return False


def fresh_copy(model):
    """A new model with new layer objects and the same weights."""
    keras = compat.keras()
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def node_index(model, layer):
    """Which of `layer`'s call nodes belongs to `model`'s own graph (None: the layer's only one).
    tfmot's clone_function keeps unwrapped layers, so one layer object can sit in several graphs
    and `layer.output` / `layer.input` may belong to another one."""
    nodes = getattr(model, "_network_nodes", None)
    if nodes:
        for i in range(len(layer.inbound_nodes)):
            if f"{layer.name}_ib-{i}" in nodes:
                return i
    return None


def model_normalisation(model) -> Optional[tuple]:
    """(0, 1) when a Rescaling layer reads the model's input (it takes 0..255 pixels), else None."""
    inputs = {id(t) for t in model.inputs}
    for layer in model.layers:
        if type(layer).__name__ != "Rescaling":
            continue
        fed = layer._inbound_nodes[0].input_tensors if getattr(layer, "_inbound_nodes", None) else None
        if fed is not None and any(id(t) in inputs for t in (fed if isinstance(fed, (list, tuple)) else [fed])):
            return 0.0, 1.0
    return None
