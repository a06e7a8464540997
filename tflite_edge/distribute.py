"""`train.strategy`: the same recipe on one CPU, several GPUs or several hosts, via tf.distribute.

The recipe's `data.batch_size` is the global batch: each replica gets batch_size / replicas.

>>> make_strategy(None) is None
True
"""
from __future__ import annotations

import json
import os
from typing import Optional

from . import compat
from .errors import UserInputError


def make_strategy(name: Optional[str]):
    """A tf.distribute strategy for `train.strategy` (None: no strategy, plain Keras).

    Create it before the run touches TensorFlow: multi_worker configures collective ops, which
    TensorFlow accepts only before its runtime starts.
    """
    if name is None:
        return None
    tf = compat.tf()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        # MirroredStrategy() alone mirrors over GPUs or one CPU; naming several logical CPUs is
        # what lets a CPU-only host (and the tests) exercise real replicas.
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        raw = os.environ.get("TF_CONFIG")
        if raw:
            try:
                json.loads(raw)
            except ValueError:
                raise UserInputError("TF_CONFIG: not valid JSON; see the tf.distribute multi-worker "
                                     "guide for its {\"cluster\": ..., \"task\": ...} shape") from None
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise UserInputError(f"train.strategy multi_worker: {str(e).splitlines()[0][:160]}; "
                                 "start each worker with its own TF_CONFIG before anything else") from None
    raise UserInputError(f"train.strategy: unknown value {name!r}; allowed: mirrored, multi_worker")


def enable_determinism() -> None:
    """Same recipe and seed, same weights on CPU: tf.data runs seeded random maps in order and
    kernels pick deterministic algorithms (measured: no slowdown on the CPU quickstart)."""
    compat.tf().config.experimental.enable_op_determinism()
