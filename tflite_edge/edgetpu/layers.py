"""Which Keras layer an op comes from, read from the tensor names the converter keeps."""
from __future__ import annotations

import re
from pathlib import Path

from .graph import TFLiteGraph, int_list
from ..errors import UserInputError

_NOT_LAYERS = re.compile(r"^(tfl\.|arith\.|serving_default|StatefulPartitionedCall|PartitionedCall)")


def _name_paths(name: str) -> list[list[str]]:
    # Fused tensors carry every source op: "m/conv1/Relu;m/conv1/BiasAdd;m/conv1/Conv2D".
    # The converter lists fused activations first and the op itself last, so read right to left.
    parts = reversed(name.split(";"))
    return [part.split("/") for part in parts if part and not _NOT_LAYERS.match(part)]


def _layer_from_names(names: list[str], keras_layers: set[str] | None) -> str | None:
    for name in names:
        for path in _name_paths(name):
            if keras_layers:
                matches = [c for c in path if c in keras_layers]
                if matches:
                    return matches[-1]  # deepest: nested models are layers too
            elif len(path) >= 3:
                return path[1]  # "<model>/<layer>/<tf op>"
    return None


def op_layer(g: TFLiteGraph, op, keras_layers: set[str] | None, output_layers: list[str]) -> str | None:
    """The Keras layer behind an op (from its tensor names, else the model output it feeds), or None."""
    outs = int_list(op.outputs)
    consts = [i for i in int_list(op.inputs) if i >= 0 and g.is_constant(i)]
    layer = _layer_from_names([g.name(i) for i in outs + consts], keras_layers)
    if layer:
        return layer
    # The converter renames graph outputs (StatefulPartitionedCall:0); the Keras model knows them.
    for i in outs:
        position = _output_position(g, i)
        if position is not None and position < len(output_layers):
            return output_layers[position]
    return None


def _output_position(g: TFLiteGraph, tensor: int) -> int | None:
    """Which model output a tensor is, looking through the I/O (de)quantize the converter adds."""
    if tensor in g.outputs:
        return g.outputs.index(tensor)
    for op in g.sg.operators or []:
        if tensor in int_list(op.inputs) and g.op_name(op) in ("QUANTIZE", "DEQUANTIZE"):
            out = int_list(op.outputs)[0]
            if out in g.outputs:
                return g.outputs.index(out)
    return None


def load_keras_layers(keras_model_path: Path) -> tuple[set[str], list[str]]:
    """(all layer names, including nested models; the layer behind each model output)."""
    path = Path(keras_model_path)
    if not path.exists():
        raise UserInputError(f"{path}: Keras model not found; pass a .keras, .h5 or SavedModel dir")
    from .. import compat

    keras = compat.keras()
    try:
        model = keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as e:  # loading reports bad files through many exception types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise UserInputError(f"{path}: cannot load the Keras model ({first}); pass the model that "
                             "was converted, saved with model.save()") from None
    names: set[str] = set()
    _collect_layer_names(model, names)
    outputs = [t._keras_history.layer.name for t in model.outputs if hasattr(t, "_keras_history")]
    return names, outputs


def _collect_layer_names(model, names: set[str]) -> None:
    for layer in getattr(model, "layers", []):
        names.add(layer.name)
        _collect_layer_names(layer, names)
