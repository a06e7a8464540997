"""BatchNorm statistics of a pruned model, re-estimated on data."""
from __future__ import annotations

import numpy as np

from .. import compat
from .graph import functional


def recalibrate_batchnorm(model, images: np.ndarray, steps: int, batch_size: int, seed: int = 0) -> int:
    """Re-estimate every BatchNorm's moving statistics on `images` (in place); returns their count.

    Removing channels changes what each later layer sees, so the statistics the unpruned model
    learnt no longer fit: MobileNetV2 on Fashion-MNIST falls to chance (10%) when cut, and the
    fine-tune then spends its first epoch relearning them. Forward passes in training mode from a
    reset (mean 0, variance 1), with the EMA's bias towards the reset removed afterwards, give
    the statistics of the pruned network itself (as in AMC / NetAdapt-style pruning)."""
    from ..fit import training_passes

    keras, tf = compat.keras(), compat.tf()
    bns = [l for l in functional(model).layers if isinstance(l, keras.layers.BatchNormalization)]
    if steps <= 0 or not bns or len(images) == 0:
        return 0
    for layer in bns:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
    training_passes(model, images, steps, batch_size, seed)
    for layer in bns:
        kept = float(layer.momentum) ** steps
        layer.moving_mean.assign(layer.moving_mean / (1.0 - kept))
        layer.moving_variance.assign((layer.moving_variance - kept) / (1.0 - kept))
    return len(bns)
