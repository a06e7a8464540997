"""Classification head on any registered backbone, and the input spec that travels with the model."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import compat
from ..errors import UserInputError


@dataclass(frozen=True)
class InputSpec:
    """What the model expects: pixels are mapped as (x - mean) / std from raw 0..255 values."""

    height: int
    width: int
    channels: int
    mean: float = 127.5
    std: float = 127.5

    @property
    def shape(self):
        return (self.height, self.width, self.channels)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, path: Path) -> "InputSpec":
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise UserInputError(f"{path}: unreadable input spec ({e}); rerun from the build stage") from None


def classifier_and_features(spec, input_spec: InputSpec, num_classes: int):
    """Backbone `spec.name` + global pooling + dropout + logits + softmax, and the backbone's named
    feature maps in the model's graph (a task may hang more heads on them: early exits).

    The logits layer is named "logits" so distillation can read it without the softmax.
    """
    from .pretrained import apply_backbone_weights
    from .registry import MODELS

    keras = compat.keras()
    L = keras.layers
    inputs = keras.Input(shape=input_spec.shape, name="image")
    features = MODELS.get(spec.name)(inputs, spec)
    apply_backbone_weights(inputs, features, spec)
    x = L.GlobalAveragePooling2D(name="pool")(features["last"])
    if spec.dropout > 0:
        x = L.Dropout(spec.dropout, name="dropout")(x)
    x = L.Dense(num_classes, name="logits")(x)
    outputs = L.Softmax(name="probs")(x)
    return keras.Model(inputs, outputs, name=spec.name), features


def build_classifier(spec, input_spec: InputSpec, num_classes: int):
    """The classifier of `classifier_and_features`, alone."""
    return classifier_and_features(spec, input_spec, num_classes)[0]
