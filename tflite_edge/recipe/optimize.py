"""`optimize:`: an ordered list of one-key steps (prune, prune_channels, cluster, qat)."""
from __future__ import annotations

import re
from typing import Annotated, Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from .base import Spec


class PruneSpec(Spec):
    sparsity: float = Field(0.5, ge=0.0, lt=1.0)
    schedule: Literal["polynomial", "constant"] = "polynomial"
    initial_sparsity: float = Field(0.0, ge=0.0, lt=1.0)
    m_by_n: Optional[List[int]] = Field(None, description="structured sparsity, e.g. [2, 4]")
    layers: Optional[List[str]] = Field(None, description="regex on layer names; null: every prunable layer")
    layer_types: Optional[List[str]] = Field(None, description="e.g. [Conv2D, Dense]")
    xnnpack_policy: bool = False
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)

    @field_validator("m_by_n")
    @classmethod
    def _m_by_n(cls, v):
        if v is not None and (len(v) != 2 or not 0 < v[0] < v[1]):
            raise ValueError("m_by_n must be [M, N] with 0 < M < N, e.g. [2, 4]")
        return v


class ClusterSpec(Spec):
    clusters: int = Field(16, ge=2, le=256)
    init: Literal["kmeans_plus_plus", "linear", "density_based", "random"] = "kmeans_plus_plus"
    layers: Optional[List[str]] = None
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)


class QatSpec(Spec):
    skip_layers: List[str] = Field([], description="regex on layer names left in float")
    range_warmup_steps: int = Field(200, ge=0, le=100000, description="forward passes on calibration "
                                    "images that measure the activation ranges before fine-tuning "
                                    "(tfmot starts them at [-6, 6]); 0: off")
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)


class PruneChannelsSpec(Spec):
    """Structured pruning (channel_prune/): remove whole filters, rebuild a smaller model, fine-tune."""

    criterion: Literal["l1", "bn_scale"] = Field("l1", description="l1: L1 norm of the filters; bn_scale: "
                                                 "|gamma| of the BatchNorms (network slimming)")
    ratio: Optional[float] = Field(None, ge=0.0, le=1.0, description="fraction of channels removed in every "
                                   "prunable layer")
    ratios: Optional[Dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]] = Field(
        None, min_length=1, description="{layer regex: ratio}; the first matching pattern wins; other layers kept")
    target_macs_ratio: Optional[float] = Field(None, gt=0.0, lt=1.0, description="MACs after / before; "
                                               "the global ratio is found by bisection")
    target_latency_ratio: Optional[float] = Field(None, gt=0.0, lt=1.0, description="int8 host latency "
                                                  "after / before (1 thread), measured per probe")
    allocation: Literal["uniform", "latency"] = Field(
        "uniform", description="with target_macs_ratio: uniform = one ratio in every layer; latency = "
        "prune hardest where a removed MAC saves the most measured int8 time (one probe per feature-map size)")
    max_ratio: float = Field(0.75, gt=0.0, lt=1.0, description="allocation latency: the most any layer loses")
    round_to: int = Field(8, ge=1, le=64, description="kept channels are a multiple of this (XNNPACK: 8)")
    measure_latency: bool = Field(True, description="time int8 host latency before and after")
    bn_recalibration_steps: int = Field(100, ge=0, le=100000, description="forward passes on calibration "
                                        "images that re-estimate the BatchNorm statistics of the cut model "
                                        "before fine-tuning; 0: off")
    epochs: int = Field(2, ge=0)
    learning_rate: Optional[float] = Field(None, gt=0.0)
    distill_from_unpruned: bool = Field(False, description="fine-tune against the unpruned model's logits")

    @field_validator("ratios")
    @classmethod
    def _regexes(cls, v):
        for pattern in v or {}:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"'{pattern}' is not a valid regular expression ({e})") from None
        return v

    @model_validator(mode="after")
    def _one_amount(self):
        given = [f for f in _PRUNE_AMOUNTS if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_PRUNE_AMOUNTS)} (got "
                             f"{', '.join(given) or 'none'}), e.g. target_macs_ratio: 0.5")
        if self.allocation == "latency" and self.target_macs_ratio is None:
            raise ValueError("allocation: latency needs target_macs_ratio (it shares out a MACs budget); "
                             "set target_macs_ratio or allocation: uniform")
        return self


_PRUNE_AMOUNTS = ("ratio", "ratios", "target_macs_ratio", "target_latency_ratio")


class PruneStep(Spec):
    prune: PruneSpec


class PruneChannelsStep(Spec):
    prune_channels: PruneChannelsSpec


class ClusterStep(Spec):
    cluster: ClusterSpec


class QatStep(Spec):
    qat: QatSpec


OPTIMIZATIONS = {"prune": PruneStep, "prune_channels": PruneChannelsStep, "cluster": ClusterStep,
                 "qat": QatStep}


def step_tag(v: Any):
    """The key of a one-key optimize step, raw (dict) or validated (a *Step); None otherwise."""
    if isinstance(v, dict) and len(v) == 1:
        return next(iter(v))
    if isinstance(v, BaseModel):
        return next(iter(type(v).model_fields))
    return None


OptimizeStep = Annotated[
    Union[Annotated[PruneStep, Tag("prune")], Annotated[PruneChannelsStep, Tag("prune_channels")],
          Annotated[ClusterStep, Tag("cluster")], Annotated[QatStep, Tag("qat")]],
    Discriminator(step_tag, custom_error_type="optimize_step",
                  custom_error_message="each optimize entry is one key: prune, prune_channels, cluster or qat"),
]
