"""The benchmark record: one row per model, target and configuration, declared and serialised here.

Every target (host tool or worker, SSH board, Android, Coral) builds its rows as a `BenchRecord`
and hands them on as `to_dict()`, the shape report.json and `bench --json` carry. A field a target
does not measure stays `MISSING` and is left out of the dict; a field it measures but could not
read (say `steal_percent` off Linux) is None. Fields only one target has (Android's delegate
coverage, Coral's `edgetpu_compiled`, a board's `accuracy`) travel in `extra`, after the declared ones.

Standard library and numpy only: the board worker imports it.

>>> BenchRecord(target="host", threads=1, **latency_stats([1.0, 2.0, 3.0])).to_dict()["latency_ms_p50"]
2.0
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict

import numpy as np


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # "not measured by this target": left out of the dict (None is "unknown")

LATENCY_FIELDS = ("latency_ms_p5", "latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
                  "latency_ms_mean", "latency_ms_std", "latency_ms_min", "latency_ms_max")


def latency_stats(times_ms) -> dict:
    """Percentiles, mean and spread of invocation times (ms): the record's latency fields."""
    times = np.asarray(times_ms, np.float64)
    return {
        "latency_ms_p5": float(np.percentile(times, 5)),
        "latency_ms_p50": float(np.percentile(times, 50)),
        "latency_ms_p90": float(np.percentile(times, 90)),
        "latency_ms_p95": float(np.percentile(times, 95)),
        "latency_ms_p99": float(np.percentile(times, 99)),
        "latency_ms_mean": float(times.mean()), "latency_ms_std": float(times.std()),
        "latency_ms_min": float(times.min()), "latency_ms_max": float(times.max()),
    }


@dataclass
class BenchRecord:
    # what ran where, and who timed it
    target: str = MISSING
    engine: str = MISSING                 # benchmark_litert_model, python_worker, benchmark_model
    engine_fallback: str = MISSING        # why the worker timed a row the tool was asked to
    model: str = MISSING                  # file name (remote targets)
    device: dict = MISSING                # the phone's or board's facts
    threads: int = MISSING
    delegate: str = MISSING
    thread_pinning: str = MISSING         # host worker: spread or none
    cpu_mask: str = MISSING               # android: taskset mask applied
    # the protocol
    runs: int = MISSING
    processes: int = MISSING              # timed runs spread over this many fresh processes
    warmup: int = MISSING
    warmup_invocations: int = MISSING
    warmup_min_s: float = MISSING
    # latency of one invocation (ms)
    latency_ms_p5: float = MISSING
    latency_ms_p50: float = MISSING
    latency_ms_p90: float = MISSING
    latency_ms_p95: float = MISSING
    latency_ms_p99: float = MISSING
    latency_ms_mean: float = MISSING
    latency_ms_std: float = MISSING
    latency_ms_min: float = MISSING
    latency_ms_max: float = MISSING
    latency_ms_p50_by_process: list = MISSING
    # one-off costs (ms) and memory (MB)
    first_inference_ms: float = MISSING
    init_ms: float = MISSING
    peak_memory_mb: float = MISSING
    model_memory_mb: float = MISSING
    # the machine while timing: CPU-seconds per second used, hypervisor steal
    cpu_busy: float = MISSING
    cpu_busy_by_process: list = MISSING
    steal_percent: float = MISSING
    samples_ms: list = MISSING            # every timed invocation, for pooling across processes
    op_profile: dict = MISSING            # per-op profile (bench/op_profile.py), when asked for
    error: str = MISSING                  # the row failed: why
    extra: Dict[str, Any] = field(default_factory=dict)  # fields one target alone reports

    @classmethod
    def from_dict(cls, row: dict) -> "BenchRecord":
        """A record from a row's dict (a worker's JSON line, a parser's summary)."""
        names = _FIELD_NAMES
        return cls(**{k: v for k, v in row.items() if k in names},
                   extra={k: v for k, v in row.items() if k not in names})

    def update(self, **values) -> "BenchRecord":
        """This record with `values` set (names it does not declare go to `extra`)."""
        for k, v in values.items():
            if k in _FIELD_NAMES:
                setattr(self, k, v)
            else:
                self.extra[k] = v
        return self

    def get(self, name: str, default=None):
        value = getattr(self, name, MISSING) if name in _FIELD_NAMES else self.extra.get(name, MISSING)
        return default if value is MISSING else value

    def pop(self, name: str, default=None):
        value = self.get(name, default)
        if name in _FIELD_NAMES:
            setattr(self, name, MISSING)
        else:
            self.extra.pop(name, None)
        return value

    def __getitem__(self, name: str):
        value = self.get(name, MISSING)
        if value is MISSING:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name, MISSING) is not MISSING

    def to_dict(self) -> dict:
        """The row as report.json and `bench --json` carry it: declared fields, then `extra`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "extra" and getattr(self, f.name) is not MISSING}
        out.update(self.extra)
        return out


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(BenchRecord) if f.name != "extra")
