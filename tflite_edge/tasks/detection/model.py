"""A detector = a registered backbone + a registered head; anchors follow from the recipe alone,
so a reloaded checkpoint never needs them stored."""
from __future__ import annotations

from ... import compat
from ...errors import UserInputError
from ...models import MODELS
from ...models.detection import DETECTORS
from ...models.pretrained import apply_backbone_weights


def detector_for(recipe, input_spec, num_classes: int):
    return DETECTORS.get(recipe.detector.name)(recipe.detector, input_spec.height, num_classes)


def build_detector(recipe, input_spec, num_classes: int):
    """Keras model with outputs `box_encodings` (B, N, 4) and `class_logits` (B, N, K)."""
    keras = compat.keras()
    det = detector_for(recipe, input_spec, num_classes)
    inputs = keras.Input(shape=input_spec.shape, name="image")
    features = MODELS.get(recipe.model.name)(inputs, recipe.model)
    apply_backbone_weights(inputs, features, recipe.model)
    box, logits = det.heads(features, recipe.model.name, recipe.model.activation)
    model = keras.Model(inputs, [box, logits], name=f"{recipe.detector.name}_{recipe.model.name}")
    n = len(det.anchors())
    if box.shape[1] != n:
        raise UserInputError(f"model.input_size: {input_spec.height} gives feature maps that do not match the "
                             f"anchor grid ({box.shape[1]} outputs, {n} anchors); use a multiple of 32")
    return model
