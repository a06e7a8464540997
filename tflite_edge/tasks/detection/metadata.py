"""Detection's TFLite Metadata layout (TensorFlow-free; metadata/writer.py asks for it): the four
outputs of TFLite_Detection_PostProcess, named as the official writer names them, in one group."""
from __future__ import annotations

from typing import List

import numpy as np

from ...errors import UserInputError
from ...metadata.common import DETECTION_NAMES, DETECTION_ROLES, POSTPROCESS_OP, detection_output_roles
from ...metadata.writer import labels_file, tensor_md
from ...metadata_schema import metadata_schema_generated as fb

KIND = "object detector"
VERB = "detected"

_DETECTION_TEXT = {"boxes": "The locations of the detected boxes.",
                   "classes": "The categories of the detected boxes.",
                   "scores": "The scores of the detected boxes.",
                   "count": "The number of the detected boxes."}
_BOX_INDEX = [1, 0, 3, 2]  # {left, top, right, bottom} at positions 1, 0, 3, 2: ymin, xmin, ymax, xmax


def outputs(model, sub, info) -> List["fb.TensorMetadataT"]:
    shapes = [[int(v) for v in sub.tensors[i].shape] for i in sub.outputs]
    roles = detection_output_roles(model)
    if roles is None:  # no postprocess op to trace: the outputs must be in its order
        fits = (len(shapes) == 4 and len(shapes[0]) == 3 and shapes[0][-1] == 4
                and shapes[1] == shapes[2] == shapes[0][:2] and int(np.prod(shapes[3])) == 1)
        if not fits:
            raise UserInputError(f"model outputs {shapes}: detection metadata needs the four outputs of "
                                 f"{POSTPROCESS_OP} (boxes [1,N,4], classes [1,N], scores [1,N], count [1])")
        roles = list(DETECTION_ROLES)
    out = []
    for role in roles:
        if role == "boxes":
            props = fb.BoundingBoxPropertiesT()
            props.index, props.type = list(_BOX_INDEX), fb.BoundingBoxType.BOUNDARIES
            props.coordinateType = fb.CoordinateType.RATIO
            t = tensor_md(DETECTION_NAMES[role], _DETECTION_TEXT[role],
                          fb.ContentProperties.BoundingBoxProperties, props)
        else:
            t = tensor_md(DETECTION_NAMES[role], _DETECTION_TEXT[role],
                          fb.ContentProperties.FeatureProperties, fb.FeaturePropertiesT())
        if role != "count":  # one box / class / score per element of axis 2 (axis 0 is the batch)
            t.content.range = fb.ValueRangeT()
            t.content.range.min = t.content.range.max = 2
        if role == "classes":
            t.associatedFiles = [labels_file(fb.AssociatedFileType.TENSOR_VALUE_LABELS)]
        out.append(t)
    return out


def output_groups() -> list:
    """boxes, classes and scores read together (a tensor group: metadata schema 1.2.0)."""
    group = fb.TensorGroupT()
    group.name = "detection_result"
    group.tensorNames = [DETECTION_NAMES[r] for r in ("boxes", "classes", "scores")]
    return [group]
