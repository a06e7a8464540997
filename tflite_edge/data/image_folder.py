"""A user's own images: one sub-folder per class, jpg/png/bmp/gif files; decoded lazily by tf.data."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserInputError
from .base import DATASETS, Dataset

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}


def scan(root: Path, class_names=None):
    """(paths, labels, class_names) for a folder of class sub-folders."""
    if not root.is_dir():
        raise UserInputError(f"data.path {root}: folder not found; point it at a folder with one "
                             "sub-folder of images per class")
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    names = class_names or found
    if len(names) < 2:
        raise UserInputError(f"data.path {root}: found {len(names)} class folder(s); need at least 2 "
                             "(one sub-folder per class)")
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise UserInputError(f"{root}: class folder(s) {unknown} are not in the training classes {names}")
    paths, labels = [], []
    for label, name in enumerate(names):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in EXTENSIONS)
        if not files and class_names is None:
            raise UserInputError(f"{root / name}: no images (.jpg/.png/.bmp/.gif) in this class folder")
        paths += [str(p) for p in files]
        labels += [label] * len(files)
    return np.array(paths), np.array(labels, np.int64), list(names)


@DATASETS.register("image_folder", summary="your images: data.path/<class>/*.jpg|png")
def load_image_folder(spec, seed: int) -> Dataset:
    paths, labels, names = scan(Path(spec.path))
    if spec.test_path:
        test_paths, test_labels, _ = scan(Path(spec.test_path), names)
        train_paths, train_labels = paths, labels
    else:
        from sklearn.model_selection import train_test_split

        try:
            train_paths, test_paths, train_labels, test_labels = train_test_split(
                paths, labels, test_size=spec.test_fraction, random_state=seed, stratify=labels)
        except ValueError as e:
            raise UserInputError(f"data.path {spec.path}: cannot split {len(paths)} images into train "
                                 f"and test ({e}); add images or set data.test_path") from None
    return Dataset(train_paths, train_labels, test_paths, test_labels, class_names=names, channels=3,
                   image_size=None)
