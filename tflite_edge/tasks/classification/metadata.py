"""Classification's TFLite Metadata layout (TensorFlow-free; metadata/writer.py asks for it):
one probability output with the labels along its axis."""
from __future__ import annotations

from typing import List

import numpy as np

from ...errors import UserInputError
from ...metadata.writer import labels_file, stats_md, tensor_md
from ...metadata_schema import metadata_schema_generated as fb

KIND = "image classifier"  # the default description: "Image classifier for N classes, ..."
VERB = "classified"        # the input's description: "Input image to be classified."


def outputs(model, sub, info) -> List["fb.TensorMetadataT"]:
    shapes = [[int(v) for v in sub.tensors[i].shape] for i in sub.outputs]
    if len(shapes) != 1 or int(np.prod(shapes[0])) != len(info.labels):
        raise UserInputError(f"model outputs {shapes}: classification metadata needs one output of "
                             f"{len(info.labels)} scores, one per label")
    t = tensor_md("probability", f"Probabilities of the {len(info.labels)} labels respectively.",
                  fb.ContentProperties.FeatureProperties, fb.FeaturePropertiesT())
    t.stats = stats_md([0.0], [1.0])
    t.associatedFiles = [labels_file(fb.AssociatedFileType.TENSOR_AXIS_LABELS)]
    return [t]


def output_groups() -> list:
    return []
