"""`search:`: the latency-aware architecture search run before build."""
from __future__ import annotations

from typing import Annotated, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..bench import PROCESSES, WARMUP_MIN_S
from .base import Spec, registered


class SearchSpace(Spec):
    """Candidates per knob of the mobilenet_v2 backbone; a knob left out keeps `model:`'s value.

    Kernel sizes and expansion ratios are chosen per stage (MnasNet's factorised space).
    """

    widths: Optional[List[Annotated[float, Field(gt=0.0, le=4.0)]]] = Field(None, min_length=1)
    input_sizes: Optional[List[Annotated[int, Field(ge=8, le=1024)]]] = Field(None, min_length=1)
    depth_multipliers: Optional[List[Annotated[float, Field(gt=0.0, le=4.0)]]] = Field(None, min_length=1)
    kernel_sizes: Optional[List[Literal[3, 5, 7]]] = Field(None, min_length=1)
    expansions: Optional[List[Annotated[int, Field(ge=1, le=8)]]] = Field(
        None, min_length=1, description="stages 2..7; the first stays at 1 as in MobileNetV2 and MnasNet")

    @model_validator(mode="after")
    def _not_empty(self):
        knobs = [getattr(self, k) for k in type(self).model_fields]
        if all(v is None for v in knobs):
            raise ValueError(f"empty space; give candidates for at least one of "
                             f"{', '.join(type(self).model_fields)}, e.g. widths: [0.35, 0.5, 0.75]")
        if all(v is None or len(set(v)) == 1 for v in knobs):
            raise ValueError("one candidate only, nothing to search; give two or more values for a knob")
        return self


class SearchSpec(Spec):
    """Latency-aware architecture search (MnasNet reward ACC * (LAT / T)^w) driven by keras-tuner."""

    space: SearchSpace
    trials: int = Field(10, ge=1, le=10000)
    latency_target_ms: float = Field(description="T in the reward: int8 latency on `target`, > 0")
    latency_weight: float = Field(-0.07, ge=-2.0, le=0.0, description="w in the reward; MnasNet's "
                                  "soft constraint is -0.07, 0 ignores latency")
    latency_weight_under_target: Optional[float] = Field(
        None, ge=-2.0, le=0.0, description="w for trials at or under T (MnasNet's alpha; "
        "`latency_weight` is then beta, used above T); null: `latency_weight` on both sides. "
        "0 with latency_weight -1 is MnasNet's hard constraint: under T only accuracy counts")
    epochs_per_trial: int = Field(1, ge=1)
    time_budget_s: Optional[float] = Field(None, gt=0.0, description="no trial starts after this many "
                                           "seconds of searching; null: run every trial")
    target: str = Field("host", description="benchmark target measured per trial (see `tflite-edge targets`)")
    threads: int = Field(1, ge=1)
    runs: int = Field(30, ge=1, le=100000)
    warmup: int = Field(5, ge=0, le=10000)
    warmup_min_s: float = Field(WARMUP_MIN_S, ge=0.0, le=600.0)
    processes: int = Field(PROCESSES, ge=1, le=100, description="host target: as benchmark.processes")
    eval_samples: int = Field(2000, ge=1, description="validation images scored per trial (int8 model)")
    calibration_samples: int = Field(100, ge=1, le=100000)

    @field_validator("latency_target_ms")
    @classmethod
    def _positive_target(cls, v):
        if v <= 0:
            raise ValueError("the latency target T must be > 0 ms (the reward divides by it), e.g. 2.0")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v):
        from ..bench import TARGETS

        kind = registered(TARGETS, v.split(":", 1)[0])
        if kind == "coral":
            raise ValueError("coral would time trials that are not compiled for the Edge TPU (they run "
                             "on its host CPU); use host, android or ssh")
        return v
