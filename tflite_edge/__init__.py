"""tflite-edge: from a YAML recipe (or your Keras model) to small, fast, validated TFLite models.

The public Python API (the README's "Python" section); importing the package starts nothing
heavy: each function imports TensorFlow only when it needs it.

    import tflite_edge as te
    result = te.run("recipes/quickstart.yaml", out="runs/qs", overrides={"train.epochs": 1})
    te.predict(result.artifacts[0].path, "photo.jpg")
    te.convert("my.keras", ["int8"], out="out/", calibration="photos/", labels="labels.txt")
    te.bench("out/my_int8.tflite", threads=[1, 2])
    te.edgetpu.check("out/my_edgetpu_ready.tflite")
"""
import sys
import types

from .api import Result, bench, convert, load_recipe, predict, run
from .errors import DeviceUnavailable, EdgeError, GateFailed, UserInputError
from .version import package_version

__version__ = package_version()

_API = ("Result", "bench", "convert", "load_recipe", "predict", "run")

__all__ = ["__version__", "DeviceUnavailable", "EdgeError", "GateFailed", "UserInputError", "edgetpu", *_API]


class _Package(types.ModuleType):
    """`tflite_edge.run`, `.convert`, `.predict` and `.bench` are the API's functions, though
    modules of those names exist: importing such a submodule sets it as an attribute of its
    package, which is refused here. The modules stay importable by their full names
    (`from tflite_edge.run import run_recipe`, `importlib.import_module`)."""

    def __setattr__(self, name, value):
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name == "edgetpu":  # the subpackage, imported on first use
        import importlib

        return importlib.import_module(f"{__name__}.edgetpu")
    raise AttributeError(f"module 'tflite_edge' has no attribute {name!r}")
