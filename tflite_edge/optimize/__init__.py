"""Stage `optimize`: the recipe's techniques in the order written (prune_channels, prune, cluster, qat).

One module per technique, each registered by name in `registry.TECHNIQUES` (importing this package
registers them all): `prune`, `cluster`, `qat` wrap a fresh copy of the model with tfmot (tfmot
wrappers reuse layer objects, so a model that was wrapped once cannot be cloned for the next
technique), fine-tune it with the run's fit (distilled when a teacher is given), and strip the
wrappers; `prune_channels` removes whole filters and returns a new, smaller model (channel_prune/).
QAT is last and not stripped: conversion makes the int8 model from the QAT graph. What came
before picks the QAT scheme: prune -> prune-preserving, cluster -> cluster-preserving, both ->
sparsity- and cluster-preserving (PCQAT); clustering after pruning preserves the zeros.

Every step is measured (`stage`): Keras accuracy on the test split, sparsity of the kernels,
distinct values per kernel, and size / gzip size of a float32 TFLite made from it.

>>> outputs = optimize(ctx)          # doctest: +SKIP
>>> [s["name"] for s in outputs["steps"]]   # doctest: +SKIP
['prune', 'cluster', 'qat']
"""
from __future__ import annotations

from . import cluster, prune, prune_channels, qat  # noqa: F401  (each registers its technique)
from .registry import TECHNIQUES
from .stage import load_checkpoint, optimize

__all__ = ["TECHNIQUES", "load_checkpoint", "optimize"]
