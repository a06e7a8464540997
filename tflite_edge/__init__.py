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
from .errors import DeviceUnavailable, EdgeError, GateFailed, UserInputError
from .version import package_version

__version__ = package_version()

_API = ("Result", "bench", "convert", "load_recipe", "predict", "run")

__all__ = ["__version__", "DeviceUnavailable", "EdgeError", "GateFailed", "UserInputError", "edgetpu", *_API]


def __getattr__(name: str):
    # Lazy (PEP 562): `import tflite_edge` for `validate` or `--help` must not pull in the API's imports.
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "edgetpu":
        from . import edgetpu

        return edgetpu
    raise AttributeError(f"module 'tflite_edge' has no attribute {name!r}")
