"""`model.backbone: FILE`: your own Keras model (a classifier you trained, a published model) as
the backbone of a new classifier head or a detector.

Its layers are cloned onto the run's input with their weights; its feature maps are found by
output size (stride_8/16/32, as for the keras_* applications), `last` is its last 4-D output,
and what comes after (its pooling and class head) is dropped. Layer names get a `backbone_`
prefix, so generic names (`conv2d`, `dense`) cannot collide with the new head's. Its input
normalisation is the recipe's `mean`/`std`, else 0..255 pixels when it starts with a Rescaling
layer (kept in the graph), else 127.5 / 127.5.

>>> features = file_backbone(keras.Input((96, 96, 3)), spec)   # doctest: +SKIP
>>> sorted(features)                                              # doctest: +SKIP
['last', 'stride_16', 'stride_32', 'stride_8']
"""
from __future__ import annotations

from pathlib import Path

from .. import compat
from ..errors import UserInputError
from .keras_applications import features_by_stride
from .registry import MODELS

PREFIX = "backbone_"
NAME = "keras_file"


def _load(spec):
    from ..model_io import load_keras_model

    try:
        return load_keras_model(Path(spec.backbone), trust_lambda=spec.trust_lambda)
    except UserInputError as e:
        raise UserInputError(f"model.backbone: {str(e).replace('--trust-lambda', 'model.trust_lambda: true')}") from None


def file_normalisation(spec) -> dict:
    """The backbone's own input normalisation: raw pixels when it starts with a Rescaling layer."""
    from ..model_io import model_normalisation

    found = model_normalisation(_load(spec))
    return {"mean": found[0], "std": found[1]} if found else {}


def _renamed(layer):
    return layer.__class__.from_config({**layer.get_config(), "name": PREFIX + layer.name})


@MODELS.register(NAME, summary="your Keras model as a backbone (model.backbone: FILE): feature maps by stride, "
                 "its head dropped, its weights kept", preprocessing=file_normalisation,
                 family="model_file")
def file_backbone(inputs, spec) -> dict:
    keras = compat.keras()
    source = _load(spec)
    where = f"model.backbone: {spec.backbone}"
    if len(source.inputs) != 1 or len(source.inputs[0].shape) != 4:
        raise UserInputError(f"{where}: the model has inputs {[tuple(t.shape) for t in source.inputs]}; a backbone "
                             "takes one image (None, H, W, C)")
    channels, want = source.inputs[0].shape[-1], inputs.shape[-1]
    if channels != want:
        raise UserInputError(f"{where}: the model takes {channels} channel(s), the run's input has {want}; set "
                             f"model.channels: {channels}")
    nested = next((layer.name for layer in source.layers if isinstance(layer, keras.Model)), None)
    if nested:
        raise UserInputError(f"{where}: layer '{nested}' is a whole model inside the model; save that inner model "
                             f"(model.get_layer('{nested}').save(...)) and give it as the backbone")
    try:
        clone = keras.models.clone_model(source, input_tensors=inputs, clone_function=_renamed)
    except (ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserInputError(f"{where}: its layers do not take the run's input {tuple(inputs.shape)} ({first}); "
                             "set model.input_size to its own") from None
    for layer in source.layers:
        if layer.weights:
            clone.get_layer(PREFIX + layer.name).set_weights(layer.get_weights())
    spatial = [layer for layer in clone.layers
               if isinstance(getattr(layer, "output_shape", None), tuple) and len(layer.output_shape) == 4
               and layer.output is not inputs]
    if not spatial:
        raise UserInputError(f"{where}: no layer outputs a feature map (None, H, W, C); a backbone is convolutional")
    return {"last": spatial[-1].output, **features_by_stride(inputs.shape[1], spatial)}
