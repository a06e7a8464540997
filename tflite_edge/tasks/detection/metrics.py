"""COCO mAP@[.5:.95] and mAP@.5 with pycocotools, boxes scaled back to each image's own pixels."""
from __future__ import annotations

import contextlib
import io


def _xywh(box, h, w):
    y0, x0, y1, x1 = box
    return [float(x0 * w), float(y0 * h), float((x1 - x0) * w), float((y1 - y0) * h)]


def coco_map(split, detections, num_classes: int) -> dict:
    """`detections`: per test image (boxes (k,4) normalised, classes (k,), scores (k,)).

    >>> coco_map(split, [(b, c, s), ...], 4)   # doctest: +SKIP
    {'map': 0.61, 'map50': 0.93}
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, gts, dets = [], [], []
    for i, (h, w) in enumerate(split.sizes):
        images.append({"id": i, "height": int(h), "width": int(w)})
        for box, label in zip(split.boxes[i], split.labels[i]):
            xywh = _xywh(box, h, w)
            gts.append({"id": len(gts) + 1, "image_id": i, "category_id": int(label) + 1, "bbox": xywh,
                        "area": xywh[2] * xywh[3], "iscrowd": 0})
        boxes, classes, scores = detections[i]
        for box, c, s in zip(boxes, classes, scores):
            dets.append({"image_id": i, "category_id": int(c) + 1, "bbox": _xywh(box, h, w), "score": float(s)})
    if not gts:
        return {"map": None, "map50": None}
    if not dets:
        return {"map": 0.0, "map50": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": gts,
                      "categories": [{"id": k + 1} for k in range(num_classes)]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map": float(max(ev.stats[0], 0.0)), "map50": float(max(ev.stats[1], 0.0))}
