"""Python decoding + NMS with the same rules as TFLite_Detection_PostProcess (fast NMS: each
anchor keeps its best class, then class-agnostic suppression), so Keras, the raw-output
artifacts and the four-output artifacts are scored by one definition."""
from __future__ import annotations

import numpy as np

from ...models.detection.anchors import decode, iou


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order) and len(keep) < limit:
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        overlap = iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][overlap <= iou_threshold]
    return np.asarray(keep, np.int64)


def detect(encodings: np.ndarray, scores: np.ndarray, anchors: np.ndarray, scales, spec):
    """One image: (N, 4) encodings, (N, K) scores with background first -> (boxes, classes, scores)."""
    cls_scores = scores[:, 1:]
    best = cls_scores.argmax(1)
    best_score = cls_scores[np.arange(len(best)), best]
    cand = np.nonzero(best_score >= spec.score_threshold)[0]
    if len(cand) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32)
    boxes = decode(encodings[cand], anchors[cand], scales)
    keep = nms(boxes, best_score[cand], spec.nms_iou, spec.max_detections)
    return np.clip(boxes[keep], 0.0, 1.0), best[cand][keep], best_score[cand][keep]
