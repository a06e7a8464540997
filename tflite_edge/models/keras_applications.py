"""`tf_keras.applications` edge backbones, registered beside ours so their standard ImageNet weight
files load into them (`model.weights: FILE`, the `..._no_top.h5` files Keras publishes).

Each keeps its own preprocessing (timm-style: the config travels with the model): MobileNets take
[-1, 1] (mean = std = 127.5), EfficientNet normalises inside the model and takes raw 0..255
(mean 0, std 1). `model.width` is the application's alpha where it has one. Feature maps are the
last layer at each stride, found by output size, so heads work on any of them.

`weights: imagenet` asks Keras to download the file: only when a user writes it, never in tests.
"""
from __future__ import annotations

from .. import compat
from ..errors import UserInputError
from .registry import MODELS

# registered name -> (tf_keras.applications class, takes alpha, alphas with published weights)
APPLICATIONS = {
    "keras_mobilenet": ("MobileNet", True, (0.25, 0.5, 0.75, 1.0)),
    "keras_mobilenet_v2": ("MobileNetV2", True, (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
    "keras_mobilenet_v3_small": ("MobileNetV3Small", True, (0.75, 1.0)),
    "keras_mobilenet_v3_large": ("MobileNetV3Large", True, (0.75, 1.0)),
    "keras_efficientnet_b0": ("EfficientNetB0", False, (1.0,)),
}
_RAW_PIXELS = {"keras_efficientnet_b0", "keras_mobilenet_v3_small", "keras_mobilenet_v3_large"}


def preprocessing(name: str) -> dict:
    """The input normalisation (x - mean) / std the application's weights were trained with."""
    # MobileNetV3 in tf_keras has its own Rescaling layer (include_preprocessing=True): raw pixels.
    return {"mean": 0.0, "std": 1.0} if name in _RAW_PIXELS else {"mean": 127.5, "std": 127.5}


def _features(inputs, base) -> dict:
    """stride_8/16/32 and last: the last layer whose output has 1/stride of the input's size."""
    size = inputs.shape[1]
    out = {"last": base.output}
    for layer in base.layers:
        shape = getattr(layer, "output_shape", None)
        if not isinstance(shape, tuple) or len(shape) != 4 or shape[1] is None:
            continue
        for stride in (8, 16, 32):
            if -(-size // stride) == shape[1]:
                out[f"stride_{stride}"] = layer.output
    return out


# Keras' applications use BatchNormalization momentum 0.999 (MobileNetV3, EfficientNet: 0.99): right
# for fine-tuning ImageNet weights, but a from-scratch run of a few hundred steps leaves the moving
# statistics near their initial values (train 81%, validation at chance, issue 22). Ours use 0.9.
FROM_SCRATCH_MOMENTUM = 0.9


def from_scratch_batchnorm(base) -> None:
    """BatchNorm momentum for a short from-scratch run; the application's own value is kept when
    its weights are loaded (as in Keras' transfer-learning guide)."""
    L = compat.keras().layers
    for layer in base.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.momentum = FROM_SCRATCH_MOMENTUM


def _build(name: str):
    cls_name, has_alpha, alphas = APPLICATIONS[name]

    def builder(inputs, spec):
        app = getattr(compat.keras().applications, cls_name)
        kwargs = {"include_top": False, "input_tensor": inputs,
                  "weights": "imagenet" if spec.weights == "imagenet" else None}
        if has_alpha:
            kwargs["alpha"] = spec.width
        elif spec.width != 1.0:
            raise UserInputError(f"model.width: {name} has no width multiplier; remove width")
        if spec.weights == "imagenet" and spec.width not in alphas:
            raise UserInputError(f"model.width: ImageNet weights of {name} exist for widths {list(alphas)}, "
                                 f"not {spec.width}")
        if cls_name.startswith("MobileNetV3"):
            kwargs["minimalistic"] = False
        try:
            base = app(**kwargs)
        except ValueError as e:
            first = str(e).strip().splitlines()[0][:200]
            raise UserInputError(f"model: tf_keras.applications.{cls_name} refused this input ({first})") from None
        if spec.weights is None:
            from_scratch_batchnorm(base)
        return _features(inputs, base)

    builder.__name__ = name
    return builder


for _name, (_cls, _alpha, _) in APPLICATIONS.items():
    MODELS.register(_name, summary=f"tf_keras.applications.{_cls} (loads its standard weight files)",
                    preprocessing=preprocessing(_name), family="keras_applications")(_build(_name))
