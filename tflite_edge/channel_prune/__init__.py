"""Structured (channel) pruning: remove whole filters, rebuild a smaller tf_keras model.

Unstructured sparsity (tfmot `prune`) shrinks gzip size but not dense CPU latency; removing
filters shrinks every tensor, so int8 kernels do less work. The flow:

1. `analyse(model)` walks the functional graph (from its config, the same data `from_config`
   rebuilds from) and puts every tensor's channel axis into *channel spaces*. Spaces that must
   keep the same channels are merged into one *group*: an Add/Multiply ties its inputs, a
   depthwise conv, BatchNorm or activation keeps its input's space, a Concatenate's output is
   the concatenation of its inputs' spaces. The model inputs and outputs, and anything fed into
   a Reshape/Flatten, are frozen. A layer type it cannot follow is refused, naming the layer.
2. `plan_channels` scores each group's channels (L1 of the producing filters, or |gamma| of its
   BatchNorms: network slimming) and keeps the best, a multiple of `round_to` (XNNPACK packs
   channels in blocks of 8, so other counts buy less speed).
3. `apply_plan` edits the filter counts in the config, rebuilds, and copies the kept slices of
   every weight (kernels on both axes, biases, depthwise kernels, BatchNorm statistics).
   `mask_model` zeroes the same channels in the original instead (the consumers' input rows),
   which must give the same outputs: the tests check exactly that.

>>> pruned, report = prune_channels(model, ratio=0.25)          # doctest: +SKIP
>>> report["macs_after"] < report["macs_before"]                # doctest: +SKIP
True

Modules: `graph` (1), `plan` (2, MACs counting, the MACs-target search), `rebuild` (3),
`latency` (int8 latency-driven searches), `batchnorm` (statistics re-estimated after the cut),
`step` (the recipe's optimize step and its build-time checks).
"""
from .batchnorm import recalibrate_batchnorm
from .graph import FREEZERS, MERGES, PASSTHROUGH, PRODUCERS, SUPPORTED, ChannelGraph, analyse
from .latency import (int8_latency_ms, int8_latency_ratio, int8_reference, ratio_for_latency, ratios_by_latency,
                      resolution_buckets)
from .plan import Plan, count_macs, group_ratios, plan_channels, planned_macs, ratio_for_macs
from .rebuild import apply_plan, mask_model, prune_channels
from .step import check_model, check_recipe, optimize_step

__all__ = ["FREEZERS", "MERGES", "PASSTHROUGH", "PRODUCERS", "SUPPORTED", "ChannelGraph", "Plan", "analyse",
           "apply_plan", "check_model", "check_recipe", "count_macs", "group_ratios", "int8_latency_ms",
           "int8_latency_ratio", "int8_reference", "mask_model", "optimize_step", "plan_channels", "planned_macs",
           "prune_channels", "ratio_for_latency", "ratio_for_macs", "ratios_by_latency", "recalibrate_batchnorm",
           "resolution_buckets"]
