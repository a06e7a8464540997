"""`convert:`, `evaluate:` and `benchmark:`: which TFLite artifacts to make, gate and time."""
from __future__ import annotations

from typing import Dict, List, Literal, Optional

from pydantic import Field, field_validator

from ..bench import PROCESSES, WARMUP_MIN_S
from ..formats import FORMAT_NAMES
from .base import Spec, registered
from .mixed import MixedSpec

FORMATS = FORMAT_NAMES  # declared in tflite_edge/formats.py


class MetadataSpec(Spec):
    """TFLite Model Metadata written into every artifact (labels, normalisation, outputs)."""

    description: str = Field("", max_length=2000, description="empty: the task and class count")
    version: str = Field("", max_length=100)
    author: str = Field("", max_length=200)
    license: str = Field("", max_length=200)


class ConvertSpec(Spec):
    formats: List[Literal[FORMATS]] = Field(["float32", "dynamic", "int8"], min_length=1)
    calibration_samples: int = Field(200, ge=1, le=100000)
    metadata: MetadataSpec = MetadataSpec()
    mixed: Optional[MixedSpec] = Field(None, description="per-layer precision chosen on measured latency: "
                                       "writes NAME_mixed.tflite")

    @field_validator("formats")
    @classmethod
    def _unique(cls, v):
        dupes = sorted({f for f in v if v.count(f) > 1})
        if dupes:
            raise ValueError(f"formats listed twice: {dupes}")
        return v


class EvaluateSpec(Spec):
    """Quality gates; accuracies are fractions (0.01 = one point). A failed gate exits 3."""

    min_keras_accuracy: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_accuracy_drop: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_accuracy_drop_by_format: Dict[Literal[FORMATS], float] = {}
    min_agreement: Optional[float] = Field(None, ge=0.0, le=1.0, description="top-1 agreement with Keras")
    min_keras_map50: Optional[float] = Field(None, ge=0.0, le=1.0, description="detection: COCO mAP@.5")
    max_map50_drop: Optional[float] = Field(None, ge=0.0, le=1.0, description="detection: per artifact")
    edgetpu_max_cpu_ops: Optional[int] = Field(0, ge=0, description="edgetpu artifacts: ops predicted "
                                               "to fall back to the CPU (null: no gate)")


class BenchmarkSpec(Spec):
    targets: List[str] = Field(["host"], min_length=1)
    threads: List[int] = Field([1], min_length=1)
    runs: int = Field(50, ge=1, le=100000)
    warmup: int = Field(5, ge=0, le=10000)
    engine: Literal["benchmark_litert_model", "python_worker"] = Field(
        "benchmark_litert_model", description="host target: who times it; LiteRT's tool falls back to "
        "python_worker where it cannot, and the row says why")
    warmup_min_s: float = Field(WARMUP_MIN_S, ge=0.0, le=600.0, description="untimed invocations go on "
                                "until this many seconds passed, as benchmark_model's --warmup_min_secs")
    processes: int = Field(PROCESSES, ge=1, le=100, description="host and ssh targets: spread `runs` over up to this "
                           "many fresh processes and pool them (one process in a slower mode cannot move the "
                           "p50); 1: one process, as benchmark_model")
    delegates: List[Literal["xnnpack", "gpu", "nnapi"]] = Field(["xnnpack"], min_length=1,
                                                                 description="android targets")
    android_binary: Optional[str] = Field(None, description="LiteRT benchmark_model for android targets")
    eval_samples: int = Field(1000, ge=1, description="ssh targets: test images sent to measure accuracy there")
    profile: bool = Field(False, description="per-op profile of every artifact (host: LiteRT's profiler; "
                          "android: benchmark_model --enable_op_profiling): top ops in report.md, all in report.json")

    @field_validator("threads")
    @classmethod
    def _threads(cls, v):
        if any(t < 1 for t in v):
            raise ValueError("threads must be >= 1")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v):
        from ..bench import TARGETS

        for t in v:
            registered(TARGETS, t.split(":", 1)[0])
        return v
