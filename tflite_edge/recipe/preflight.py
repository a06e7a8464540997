"""The files a recipe names, checked before any work (`validate` and `run`; no TensorFlow).

The schema says a value has the right type; this says the file or folder it names is there and
of the right kind: a model file or SavedModel folder, a dataset folder in its layout, teachers,
device binaries. Paths are those the recipe writes (relative ones from the working directory, as
the run reads them); a dataset's default location (fashion_mnist's Debian folder) is checked when
the data loads, with its install hint.

>>> check_paths(load_recipe("recipes/quickstart.yaml"), "recipes/quickstart.yaml")   # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def _fail(where: str, key: str, path, problem: str, fix: str):
    raise UserInputError(f"{where}: {key}: {path} {problem}; {fix}")


def _model(where: str, key: str, path: str, what: str = "a Keras model") -> None:
    p = Path(path)
    fix = f"give {what}: a .keras or .h5 file, or a SavedModel folder"
    if not p.exists():
        _fail(where, key, path, "not found", fix)
    if p.is_dir():
        if not (p / "saved_model.pb").is_file():
            _fail(where, key, path, "is a folder without saved_model.pb", fix)
    elif p.suffix.lower() not in MODEL_SUFFIXES:
        _fail(where, key, path, f"has suffix '{p.suffix}'", fix)


def _weights(where: str, key: str, path: str) -> None:
    if path == "imagenet":
        return
    p = Path(path)
    fix = "give a Keras weights file (.h5) or a model (.keras, .h5) with the same backbone layers"
    if not p.is_file():
        _fail(where, key, path, "not found" if not p.exists() else "is not a file", fix)
    if p.suffix.lower() not in MODEL_SUFFIXES:
        _fail(where, key, path, f"has suffix '{p.suffix}'", fix)


def _folder(where: str, key: str, path: str, fix: str) -> Path:
    p = Path(path)
    if not p.exists():
        _fail(where, key, path, "not found", fix)
    if not p.is_dir():
        _fail(where, key, path, "is a file, not a folder", fix)
    return p


def _file(where: str, key: str, path: str, fix: str) -> None:
    p = Path(path)
    if not p.is_file():
        _fail(where, key, path, "not found" if not p.exists() else "is not a file", fix)


def _image_folder(where: str, key: str, path: str) -> None:
    fix = "give a folder with one sub-folder of .jpg/.png images per class"
    root = _folder(where, key, path, fix)
    classes = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        _fail(where, key, path, "has no class sub-folders", fix)


def _voc(where: str, key: str, path: str) -> None:
    fix = "give a Pascal VOC folder holding Annotations/*.xml and JPEGImages/"
    root = _folder(where, key, path, fix)
    for sub in ("Annotations", "JPEGImages"):
        if not (root / sub).is_dir():
            _fail(where, key, path, f"has no {sub}/ folder", fix)


def _data(where: str, data) -> None:
    kind = data.dataset
    if kind == "image_folder":
        _image_folder(where, "data.path", data.path)
        if data.test_path:
            _image_folder(where, "data.test_path", data.test_path)
    elif kind == "voc":
        _voc(where, "data.path", data.path)
        if data.test_path:
            _voc(where, "data.test_path", data.test_path)
    elif kind == "coco":
        for key, fix in (("annotations", "give the COCO instances JSON file"),
                         ("test_annotations", "give the COCO instances JSON file of the test split")):
            if getattr(data, key):
                _file(where, f"data.{key}", getattr(data, key), fix)
        for key in ("images", "test_images"):
            if getattr(data, key):
                _folder(where, f"data.{key}", getattr(data, key), "give the folder the JSON's file_names are in")
    elif kind == "fashion_mnist" and "path" in data.model_fields_set:
        from ..data.fashion_mnist import HOW_TO_GET

        _folder(where, "data.path", data.path, f"it holds the four Fashion-MNIST *-ubyte.gz files: {HOW_TO_GET}")


def _targets(where: str, benchmark) -> None:
    android = [t for t in benchmark.targets if t.split(":", 1)[0] == "android"]
    if not android:
        return
    fix = ("download the official arm64 build (android_aarch64_benchmark_model, see android_bench/README.md) "
           "and set benchmark.android_binary")
    if benchmark.android_binary is None:
        raise UserInputError(f"{where}: benchmark.targets: {android[0]} needs LiteRT's benchmark_model binary and "
                             f"benchmark.android_binary is not set; {fix}")
    _file(where, "benchmark.android_binary", benchmark.android_binary, fix)


def check_paths(recipe, where: str = "recipe") -> None:
    """Raise UserInputError naming the first file or folder the recipe names that is missing or of
    the wrong kind; `where` is the recipe's file (or "recipe" for a dict)."""
    m = recipe.model
    if m.path is not None:
        _model(where, "model.path", m.path, "your trained Keras classifier")
    if getattr(m, "backbone", None) is not None:
        _model(where, "model.backbone", m.backbone, "a Keras model to use as the backbone")
    if m.weights is not None:
        _weights(where, "model.weights", m.weights)
    _data(where, recipe.data)
    teacher = getattr(recipe, "teacher", None)
    for i, src in enumerate(teacher.sources if teacher is not None else []):
        if src.path is not None:
            _model(where, f"teacher.sources[{i}].path", src.path, "a trained Keras teacher")
        if src.recipe is not None:
            _file(where, f"teacher.sources[{i}].recipe", src.recipe, "give the path of the teacher's .yaml recipe")
    _targets(where, recipe.benchmark)
