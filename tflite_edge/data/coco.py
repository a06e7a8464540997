"""COCO JSON (instances_*.json) annotations for your own images.

Malformed JSON names file and line; structural faults name the file and the entry
(`annotations[12]`); boxes outside the image are clipped and crowd regions skipped, all counted.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..errors import UserInputError
from .base import DATASETS
from .detection import DetectionDataset, as_split, class_index, clip_box, image_size_of, seeded_split


def read_json(path: Path, key: str) -> dict:
    if not path.is_file():
        raise UserInputError(f"data.{key}: {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserInputError(f"{path}:{e.lineno}: malformed JSON ({e.msg}, column {e.colno}); fix the file") from None
    except UnicodeDecodeError:
        raise UserInputError(f"{path}: not UTF-8 text; COCO annotations are JSON") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations",
                                                                                        "categories")):
        raise UserInputError(f"{path}: a COCO file is an object with lists 'images', 'annotations' and "
                             "'categories'")
    return data


def _field(entry, name: str, where: str):
    if not isinstance(entry, dict) or name not in entry:
        raise UserInputError(f"{where}: missing '{name}'")
    return entry[name]


def category_names(data: dict, path: Path) -> dict:
    return {_field(c, "id", f"{path}: categories[{i}]"): str(_field(c, "name", f"{path}: categories[{i}]"))
            for i, c in enumerate(data["categories"])}


def read_coco(path: Path, images_dir: Path, classes, spec, counts: Counter, key: str):
    data = read_json(path, key)
    cats = category_names(data, path)
    images = {}
    for i, im in enumerate(data["images"]):
        where = f"{path}: images[{i}]"
        fname = images_dir / str(_field(im, "file_name", where))
        if not fname.is_file():
            raise UserInputError(f"{where}: image {fname} not found (data.images is the folder of file_name)")
        if fname.stat().st_size == 0:
            counts["images_skipped_empty_file"] += 1
            continue
        h, w = im.get("height"), im.get("width")
        if not (isinstance(h, (int, float)) and isinstance(w, (int, float)) and h > 0 and w > 0):
            h, w = image_size_of(fname, where)
        images[_field(im, "id", where)] = (str(fname), [], [], (int(h), int(w)))
    for i, a in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}] (id {a.get('id') if isinstance(a, dict) else '?'})"
        image_id, cat = _field(a, "image_id", where), _field(a, "category_id", where)
        if cat not in cats:
            raise UserInputError(f"{where}: category_id {cat} is not in 'categories'")
        if image_id not in images:
            if any(isinstance(im, dict) and im.get("id") == image_id for im in data["images"]):
                continue  # its image was skipped (empty file) and counted
            raise UserInputError(f"{where}: image_id {image_id} is not in 'images'")
        if a.get("iscrowd"):
            counts["objects_skipped_crowd"] += 1
            continue
        bbox = _field(a, "bbox", where)
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise UserInputError(f"{where}: bbox must be [x, y, width, height] in pixels (got {bbox!r})")
        x, y, bw, bh = bbox
        if bw <= 0 or bh <= 0:
            counts["boxes_dropped_empty"] += 1
            continue
        k = class_index(cats[cat], classes, spec.unknown_classes, where, counts)
        if k is None:
            continue
        _, boxes, labels, (h, w) = images[image_id]
        box = clip_box(x, y, x + bw, y + bh, w, h, counts)
        if box is not None:
            boxes.append(box)
            labels.append(k)
    counts["images_without_objects"] += sum(1 for r in images.values() if not r[1])
    return as_split(list(images.values()))


@DATASETS.register("coco", summary="COCO JSON annotations for your own images", task="detection")
def load_coco(spec, seed: int) -> DetectionDataset:
    counts: Counter = Counter()
    path = Path(spec.annotations)
    if spec.classes is not None:
        classes = list(spec.classes)
    else:  # label order follows category id, as COCO tools expect
        cats = category_names(read_json(path, "annotations"), path)
        classes = [cats[k] for k in sorted(cats)]
    full = read_coco(path, Path(spec.images), classes, spec, counts, "annotations")
    if spec.test_annotations:
        test = read_coco(Path(spec.test_annotations), Path(spec.test_images or spec.images), classes, spec,
                         counts, "test_annotations")
        train = full
    else:
        train, test = seeded_split(full, spec.test_fraction, seed)
    return DetectionDataset(train, test, classes, counts=counts)
