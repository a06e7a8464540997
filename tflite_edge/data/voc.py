"""Pascal VOC XML annotations: `<root>/Annotations/*.xml`, images in `<root>/JPEGImages/`.

Bad annotations either get the repair users expect (boxes clipped to the image, difficult or
empty objects skipped) and are counted, or stop the run with the file and line to fix.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat
from collections import Counter
from pathlib import Path

from ..errors import UserInputError
from .base import DATASETS
from .detection import DetectionDataset, as_split, class_index, clip_box, image_size_of, seeded_split


def parse_with_lines(path: Path):
    """(root element, {element id: line}): ElementTree keeps no line numbers, expat does."""
    lines, builder = {}, ET.TreeBuilder()
    parser = expat.ParserCreate()

    def start(tag, attrs):
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    parser.StartElementHandler, parser.EndElementHandler = start, builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(path.read_bytes(), True)
        return builder.close(), lines
    except expat.ExpatError as e:
        raise UserInputError(f"{path}:{e.lineno}: malformed XML ({expat.ErrorString(e.code)}, column "
                             f"{e.offset + 1}); fix or remove the file") from None


def _number(obj, tag: str, path: Path, lines) -> float:
    el = obj.find(tag)
    line = lines.get(id(el), lines.get(id(obj)))
    if el is None or el.text is None:
        raise UserInputError(f"{path}:{line}: <{obj.tag}> has no <{tag}>; every box needs "
                             "xmin, ymin, xmax, ymax")
    try:
        return float(el.text)
    except ValueError:
        raise UserInputError(f"{path}:{line}: <{tag}> is '{el.text.strip()}', not a number") from None


def read_annotation(path: Path, images_dir: Path, classes, spec, counts: Counter):
    """One XML -> (image path, boxes, labels, (h, w)) or None for an image that must be skipped."""
    root, lines = parse_with_lines(path)
    fname = root.findtext("filename")
    if not fname:
        raise UserInputError(f"{path}:{lines.get(id(root))}: no <filename>; name the image file")
    image = images_dir / fname.strip()
    if not image.is_file():
        raise UserInputError(f"{path}:{lines.get(id(root.find('filename')))}: image {image} not found")
    if image.stat().st_size == 0:
        counts["images_skipped_empty_file"] += 1
        return None
    size = root.find("size")
    if size is not None and size.findtext("width") and size.findtext("height"):
        w, h = _number(size, "width", path, lines), _number(size, "height", path, lines)
    else:
        h, w = image_size_of(image, str(path))
    if w <= 0 or h <= 0:  # some tools write 0x0 for unknown sizes: the file knows better
        h, w = image_size_of(image, str(path))
    boxes, labels = [], []
    for obj in root.iter("object"):
        line = lines.get(id(obj))
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise UserInputError(f"{path}:{line}: <object> without <name>")
        if spec.skip_difficult and (obj.findtext("difficult") or "0").strip() == "1":
            counts["objects_skipped_difficult"] += 1
            continue
        k = class_index(name, classes, spec.unknown_classes, f"{path}:{lines.get(id(obj.find('name')))}", counts)
        if k is None:
            continue
        bb = obj.find("bndbox")
        if bb is None:
            raise UserInputError(f"{path}:{line}: <object> '{name}' has no <bndbox>")
        # VOC pixel indices are 1-based and inclusive.
        x0, y0 = _number(bb, "xmin", path, lines) - 1, _number(bb, "ymin", path, lines) - 1
        x1, y1 = _number(bb, "xmax", path, lines), _number(bb, "ymax", path, lines)
        if x1 <= x0 or y1 <= y0:
            raise UserInputError(f"{path}:{lines.get(id(bb))}: box xmin..xmax {x0 + 1:g}..{x1:g}, ymin..ymax "
                                 f"{y0 + 1:g}..{y1:g} is inverted or empty; fix the coordinates")
        box = clip_box(x0, y0, x1, y1, w, h, counts)
        if box is not None:
            boxes.append(box)
            labels.append(k)
    if not boxes:
        counts["images_without_objects"] += 1
    return str(image), boxes, labels, (int(h), int(w))


def _xml_files(root: Path, key: str):
    ann = root / "Annotations"
    if not ann.is_dir():
        raise UserInputError(f"data.{key}: {ann} not found; a VOC folder holds Annotations/ and JPEGImages/")
    files = sorted(ann.glob("*.xml"))
    if not files:
        raise UserInputError(f"data.{key}: no .xml files in {ann}")
    return files


def _class_names(files, spec):
    if spec.classes is not None:
        return list(spec.classes)
    names = set()
    for f in files:
        try:
            root, _ = parse_with_lines(f)
        except UserInputError:
            continue  # read_folder lists it with the others
        names |= {(o.findtext("name") or "").strip() for o in root.iter("object")} - {""}
    return sorted(names)


def read_folder(root: Path, key: str, classes, spec, counts: Counter):
    """Every annotation of the folder; all faulty files are listed at once (the first few, the count)."""
    recs, errors = [], []
    for f in _xml_files(root, key):
        try:
            recs.append(read_annotation(f, root / "JPEGImages", classes, spec, counts))
        except UserInputError as e:
            errors.append(str(e))
    if len(errors) == 1:
        raise UserInputError(errors[0])
    if errors:
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise UserInputError(f"{len(errors)} annotation files need fixing: {'; '.join(errors[:5])}{more}")
    return as_split([r for r in recs if r is not None])


@DATASETS.register("voc", summary="Pascal VOC XML annotations in your folder", task="detection")
def load_voc(spec, seed: int) -> DetectionDataset:
    counts: Counter = Counter()
    root = Path(spec.path)
    classes = _class_names(_xml_files(root, "path"), spec)
    full = read_folder(root, "path", classes, spec, counts)
    if spec.test_path:
        train, test = full, read_folder(Path(spec.test_path), "test_path", classes, spec, counts)
    else:
        train, test = seeded_split(full, spec.test_fraction, seed)
    return DetectionDataset(train, test, classes, counts=counts)
