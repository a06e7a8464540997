"""Weight statistics read from a Keras model: sparsity of the kernels and distinct values per kernel
(what pruning and clustering change), looking through tfmot wrappers."""
from __future__ import annotations

import numpy as np

from . import compat


def weighted_types():
    L = compat.keras().layers
    return (L.Conv1D, L.Conv2D, L.Conv3D, L.Dense, L.DepthwiseConv2D, L.SeparableConv2D)


def is_depthwise(layer) -> bool:
    return isinstance(layer, compat.keras().layers.DepthwiseConv2D)


def kernels(model):
    """[(layer name, kernel ndarray, is depthwise)] of the weighted layers, looking through wrappers."""
    out = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if not isinstance(inner, weighted_types()):
            continue
        # read the variable: inside a QAT wrapper `inner.kernel` is the fake-quantised symbolic tensor
        want = "depthwise_kernel:0" if is_depthwise(inner) else "kernel:0"
        var = next((w for w in layer.weights if w.name.split("/")[-1] == want), None)
        if var is None:
            continue
        out.append((inner.name, np.asarray(var.numpy()), is_depthwise(inner)))
    return out


def measure_weights(model) -> dict:
    """Sparsity over all kernels, and distinct values per kernel (layers that clustering touches)."""
    ks = kernels(model)
    total = sum(k.size for _, k, _ in ks)
    zeros = sum(int((k == 0).sum()) for _, k, _ in ks)
    uniq = [len(np.unique(k)) for _, k, dw in ks if not dw]
    return {"sparsity": float(zeros / total) if total else 0.0,
            "unique_values_per_kernel": {"min": int(min(uniq)) if uniq else 0,
                                         "median": float(np.median(uniq)) if uniq else 0.0,
                                         "max": int(max(uniq)) if uniq else 0},
            "kernel_weights": int(total)}
