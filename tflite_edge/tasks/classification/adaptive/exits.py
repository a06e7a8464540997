"""Early-exit heads on a classifier, and the cut of the model into cascade segments.

An exit reads a tensor of the backbone (a named feature map such as stride_8, or a layer's output)
through 1x1 conv + BatchNorm + ReLU6, global pooling and its own logits/softmax. The model keeps
one image input and gains outputs: [exit0_probs, exit1_probs, ..., probs] (final head last).

A cascade cuts the model at each exit's input: segment 0 maps the image to (exit 0 scores, the
feature map), segment k the previous feature map to (exit k scores, its feature map), the last one
to the final scores. A cut must be the only tensor that crosses it: inside a residual block the
skip branch crosses too, and the cut is refused naming the block outputs that work.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from .... import compat
from ....errors import UserInputError


def exit_layer_names(i: int) -> dict:
    return {"conv": f"exit{i}_conv", "logits": f"exit{i}_logits", "probs": f"exit{i}_probs"}


def _exit_head(x, i: int, head_channels: int, num_classes: int):
    from ....models.layers import conv_bn

    L = compat.keras().layers
    names = exit_layer_names(i)
    h = conv_bn(x, head_channels, 1, 1, f"exit{i}", "relu6")  # layers exit{i}_conv, _bn, _relu6
    h = L.GlobalAveragePooling2D(name=f"exit{i}_pool")(h)
    h = L.Dense(num_classes, name=names["logits"])(h)
    return L.Softmax(name=names["probs"])(h)


def _producer(tensor):
    return tensor._keras_history.layer  # noqa: SLF001  (Keras' own link from a tensor to its layer)


def _valid_names(model, feature_maps: Dict[str, object]) -> str:
    maps = [f"{k} ({_producer(v).name})" for k, v in feature_maps.items()]
    adds = [l.name for l in model.layers if l.name.endswith("_add")][:6]
    parts = ([f"feature maps {', '.join(maps)}"] if maps else []) + \
            [f"layer names such as {', '.join(adds or [l.name for l in model.layers[1:6]])}"]
    return " or ".join(parts)


def attach_exits(model, spec, num_classes: int, feature_maps: Optional[Dict[str, object]] = None):
    """`model` (one image in, class scores out) with `spec.exits` early exits; returns a new model
    whose outputs are the exits' scores then the final scores. `feature_maps` names tensors of the
    model's graph (a built backbone's stride_N maps); any layer name works too."""
    keras = compat.keras()
    feature_maps = {k: v for k, v in (feature_maps or {}).items() if k != "last"}
    order = {l.name: i for i, l in enumerate(model.layers)}
    cuts = []
    for i, e in enumerate(spec.exits):
        where = f"adaptive.exits[{i}].after"
        if e.after in feature_maps:
            tensor = feature_maps[e.after]
        else:
            try:
                tensor = model.get_layer(e.after).output
            except ValueError:
                raise UserInputError(f"{where}: '{e.after}' is not a feature map or layer of this model; "
                                     f"valid: {_valid_names(model, feature_maps)}") from None
        if len(getattr(tensor, "shape", ())) != 4:
            raise UserInputError(f"{where}: '{e.after}' outputs shape {tuple(tensor.shape)}, not a feature map "
                                 f"(N, H, W, C); valid: {_valid_names(model, feature_maps)}")
        layer = _producer(tensor)
        if layer.name == model.layers[-1].name or isinstance(layer, keras.layers.InputLayer):
            raise UserInputError(f"{where}: '{e.after}' is the model's input or output; an exit goes between")
        cuts.append((order[layer.name], e.after, tensor))
    if [c[0] for c in cuts] != sorted(c[0] for c in cuts):
        raise UserInputError(f"adaptive.exits: give the exits in the order data flows through the model "
                             f"(got {', '.join(c[1] for c in cuts)})")
    exits = [_exit_head(t, i, e.head_channels, num_classes) for i, ((_, _, t), e) in
             enumerate(zip(cuts, spec.exits))]
    out = keras.Model(model.inputs, [*exits, *model.outputs], name=model.name)
    segment_models(out)  # a cut crossed by a skip branch fails here, at build time
    return out


def num_exits(model) -> int:
    return len(model.outputs) - 1


def _find(model, name: str):
    """Layer `name` or the tfmot wrapper around it (prune_low_magnitude_X, quant_X, cluster_X)."""
    for layer in model.layers:
        if layer.name == name or getattr(getattr(layer, "layer", None), "name", None) == name:
            return layer
    raise UserInputError(f"the model has no layer '{name}'; an adaptive model comes from a recipe with "
                         "adaptive: (rerun from the build stage)")


def _input_in(model, layer):
    """`layer`'s input tensor in `model`'s own graph (tfmot clones share layer objects)."""
    from ....model_io import node_index

    i = node_index(model, layer)
    return layer.input if i is None else layer.get_input_at(i)


def exit_logits(model, tensor_of) -> List[object]:
    """Each exit's logits tensor, `tensor_of(layer)` giving a layer's output in `model`'s graph."""
    return [tensor_of(_find(model, exit_layer_names(i)["logits"])) for i in range(num_exits(model))]


def is_exit_layer(layer) -> bool:
    """An exit head's layer (or a tfmot wrapper around one): transfer learning keeps these trainable."""
    name = getattr(getattr(layer, "layer", None), "name", None) or layer.name
    return bool(re.match(r"exit\d+_", name))


def cut_tensors(model) -> List[object]:
    """The tensor each exit reads (its conv's input): where the cascade cuts the model."""
    return [_input_in(model, _find(model, exit_layer_names(i)["conv"])) for i in range(num_exits(model))]


def segment_models(model) -> List[object]:
    """Keras models of the cascade's segments (see the module docstring); outputs [scores, features]
    for every segment but the last, which outputs the final scores only."""
    keras = compat.keras()
    cuts, outs = cut_tensors(model), model.outputs
    starts = [model.inputs[0], *cuts]
    segments = []
    for k, start in enumerate(starts):
        ends = [outs[k], cuts[k]] if k < len(cuts) else [outs[-1]]
        try:
            segments.append(keras.Model(start, ends, name=f"segment{k}"))
        except ValueError as e:
            if not any(m in str(e).lower() for m in ("disconnected", "cannot be reached")):
                raise
            raise UserInputError(f"adaptive.exits[{k - 1}].after: the model cannot be cut at "
                                 f"'{_producer(start).name}': another tensor (a skip "
                                 "connection) crosses there; put the exit after a block's output (its _add "
                                 "layer, or a stride_N feature map)") from None
    return segments


def final_model(model):
    """The final head alone (one output): what the full-model artifacts contain."""
    if len(model.outputs) == 1:
        return model
    return compat.keras().Model(model.inputs, model.outputs[-1], name=model.name)


def is_adaptive(model) -> bool:
    """A model with early exits made here: every output but the last is an exit's softmax."""
    names = list(getattr(model, "output_names", None) or [])
    return len(names) > 1 and all(re.fullmatch(r"(quant_)?exit\d+_probs", n) for n in names[:-1])


def final_head(model):
    """An adaptive model's final head alone (a teacher teaches with it); other models unchanged."""
    return final_model(model) if is_adaptive(model) else model


def final_output(outputs):
    """The final head's scores from a model call's result (a list for an adaptive model)."""
    return outputs[-1] if isinstance(outputs, (list, tuple)) else outputs
