"""The one place that imports TensorFlow, tf_keras and tfmot.

tfmot only works with Keras 2 (tf_keras), so TF_USE_LEGACY_KERAS must be set before the first
`import tensorflow`. Everything else calls these functions instead of importing directly, which
also keeps `tflite-edge --help` and `validate` free of TensorFlow start-up cost.
"""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager


@contextmanager
def quiet_native_stderr():
    """Hold back what C++ code writes to fd 2 (TF's pre-absl-init logs, converter logs, which no
    environment variable silences); replay it if the block raises, so nothing useful is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read()[-20000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _prepare_env() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def tf():
    _prepare_env()
    if "tensorflow" not in sys.modules:
        with quiet_native_stderr():
            import tensorflow

            tensorflow.config.list_physical_devices()  # device probing logs (cuInit...) happen here
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

