"""`convert.mixed:` per-layer precision chosen on the benchmark target (no TensorFlow here)."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, field_validator

from .base import Spec

PRECISIONS = ("int8", "int16x8", "float32")


class MixedSpec(Spec):
    """Writes NAME_mixed.tflite: per layer (or block) int8, int16x8 or float32, chosen by measured
    latency on `target` under `max_accuracy_drop` against the float model on the validation split."""

    precisions: List[Literal[PRECISIONS]] = Field(list(PRECISIONS), min_length=2,
                                                  description="the precisions a layer may get")
    max_accuracy_drop: float = Field(0.01, ge=0.0, le=1.0, description="validation accuracy the mixed "
                                     "artifact may lose against the float model (0.01 = one point)")
    granularity: Literal["block", "layer"] = Field("block", description="block: the layers of one backbone "
                                                   "block share a precision (fewer candidates); layer: each layer")
    max_candidates: int = Field(40, ge=3, le=1000, description="timed candidates at most (search cost)")
    min_gain: float = Field(0.02, ge=0.0, le=0.5, description="a change is kept when the target says it is "
                            "this much faster (0.02 = 2%): less is within timing noise")
    target: Optional[str] = Field(None, description="benchmark target whose latency is the objective; "
                                  "null: the first of benchmark.targets")
    validation_samples: int = Field(2000, ge=50, le=1_000_000, description="validation images scored per "
                                    "candidate")
    runs: int = Field(100, ge=5, le=100000, description="timed invocations per candidate")
    drop_confidence: Optional[float] = Field(0.95, ge=0.5, lt=1.0, description="the bound is held against an "
                                             "upper confidence bound on the drop at this confidence (paired "
                                             "per-image results, margin.py), so that it holds on unseen images; "
                                             "null: against the drop seen on the validation images")

    @field_validator("precisions")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"precisions listed twice: {v}")
        return v


def check_mixed(r) -> None:
    """Rules that span sections; called by the Recipe's validator."""
    m = r.convert.mixed
    if m is None:
        return
    if "edgetpu" in r.convert.formats:
        raise ValueError("convert.mixed: the Edge TPU compiler maps only full int8 models; remove edgetpu from "
                         "convert.formats or remove convert.mixed (a separate recipe can make each)")
    if "float32" not in r.convert.formats:
        raise ValueError("convert.mixed starts from the float32 artifact; add float32 to convert.formats")
    if r.data.validation_fraction <= 0:
        raise ValueError("convert.mixed: candidates are scored on the validation split, never the test split; "
                         "set data.validation_fraction > 0 (e.g. 0.1)")
    if m.target is not None and m.target not in r.benchmark.targets:
        raise ValueError(f"convert.mixed.target: {m.target!r} is not in benchmark.targets "
                         f"{list(r.benchmark.targets)}; add it there or leave target out")
