"""Detection in `tflite-edge predict` (TensorFlow-free): the four outputs of
TFLite_Detection_PostProcess, each detection above the threshold, boxes drawn on request."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ...errors import UserInputError
from ...metadata import DETECTION_NAMES, DETECTION_ROLES, detection_output_roles

# TFLite_Detection_PostProcess writes ymin, xmin, ymax, xmax as ratios of the input size
OP_BOX_LAYOUT = {"index": [1, 0, 3, 2], "type": "BOUNDARIES", "coordinate_type": "RATIO"}


def _roles(meta: Optional[dict], model_bytes: bytes, shapes: List[List[int]], where: str) -> List[str]:
    names = {name: role for role, name in DETECTION_NAMES.items()}
    by_name = [names.get(o["name"]) for o in (meta or {}).get("outputs", [])]
    if len(by_name) == 4 and sorted(filter(None, by_name)) == sorted(DETECTION_ROLES):
        roles = by_name  # the official names, as the Task Library maps them
    else:
        roles = detection_output_roles(model_bytes) or list(DETECTION_ROLES)
    shape = dict(zip(roles, shapes))
    if len(shape["boxes"]) != 3 or shape["boxes"][-1] != 4 or int(np.prod(shape["count"])) != 1:
        raise UserInputError(f"{where}: outputs {shapes} are not the four of TFLite_Detection_PostProcess "
                             "(boxes [1,N,4], classes [1,N], scores [1,N], count [1])")
    return roles


def prepare(predictor, meta, model_bytes: bytes, shapes: List[List[int]], where: str) -> None:
    """The role of each output (boxes, classes, scores, count) and the boxes' layout."""
    predictor.roles = _roles(meta, model_bytes, shapes, where)
    boxes_meta = next((o for o in (meta or {}).get("outputs", []) if o.get("bounding_box")), None)
    predictor.box_layout = boxes_meta["bounding_box"] if boxes_meta else dict(OP_BOX_LAYOUT)


def run(predictor, image, path, top_k: int, threshold: float, draw) -> dict:
    """`draw(image, detections, path)`: the drawn file's path, or None when not asked for."""
    found = predictor.detect(image, threshold)
    return {"image": str(path), "detections": found, "drawn": draw(image, found, path)}


def result_threshold(threshold: float):
    return threshold


def text_lines(r: dict, result: dict) -> List[str]:
    drawn = f" -> {r['drawn']}" if r["drawn"] else ""
    return ([f"{r['image']}: {len(r['detections'])} detection(s) with score >= {result['threshold']:g}{drawn}"]
            + [f"  {d['label']:<12} {d['score']:.3f}  box ymin {d['box'][0]:.3f} xmin {d['box'][1]:.3f} "
               f"ymax {d['box'][2]:.3f} xmax {d['box'][3]:.3f}" for d in r["detections"]])
