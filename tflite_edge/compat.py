"""The one place that imports TensorFlow, tf_keras and tfmot.

tfmot only works with Keras 2 (tf_keras), so TF_USE_LEGACY_KERAS must be set before the first
`import tensorflow`. Everything else calls these functions instead of importing directly, which
also keeps `tflite-edge --help` and `validate` free of TensorFlow start-up cost.
"""
from __future__ import annotations

import os


def _prepare_env() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def tf():
    _prepare_env()
    import tensorflow

    return tensorflow


def keras():
    tf()
    import tf_keras

    return tf_keras


def tfmot():
    tf()
    import tensorflow_model_optimization

    return tensorflow_model_optimization


def interpreter_module():
    """ai_edge_litert's interpreter (the successor of tflite-runtime); does not import TF."""
    from ai_edge_litert import interpreter

    return interpreter
