"""What every benchmark target shares: its options and their defaults.

A leaf module (standard library only): the target modules import it, and `tflite_edge.bench`
re-exports it, so no submodule has to import its own package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

# Untimed invocations go on until this many seconds have passed (LiteRT benchmark_model's
# --warmup_min_secs default). A count alone is 2 ms of warm-up for a 0.1 ms model: one fresh process
# in three then timed a 50% slower mode on a 2-core host (benchmarks/RESULTS.md, issue 7).
WARMUP_MIN_S = 0.5
# Host timings spread over this many fresh processes and pooled. On a shared host, short slow
# spells (9-30% for a 0.1 ms model, from other guests) hit one process's whole timed window and
# move its p50; samples from four processes, seconds apart, outvote one such spell (RESULTS.md, issue 7).
PROCESSES = 4

# Who times a host row (report field `engine`). `benchmark_litert_model`: the tool the pinned
# ai-edge-litert wheel ships (`python -m ai_edge_litert.tools.benchmark_litert_model`), so host
# figures are the runtime's own; `python_worker`: our loop (bench/host_worker.py), which also runs
# on SSH boards, measures accuracy there, and runs what the tool rejects (sparse int8 models).
LITERT_TOOL = "benchmark_litert_model"
PYTHON_WORKER = "python_worker"
HOST_ENGINES = (LITERT_TOOL, PYTHON_WORKER)


@dataclass(frozen=True)
class BenchOptions:
    threads: Tuple[int, ...] = (1,)
    runs: int = 50
    warmup: int = 5
    warmup_min_s: float = WARMUP_MIN_S
    processes: int = PROCESSES                 # host and ssh: runs spread over fresh processes, pooled
    delegates: Tuple[str, ...] = ("xnnpack",)  # android only: xnnpack, gpu, nnapi
    android_binary: Optional[str] = None       # LiteRT benchmark_model for the device (android_bench/)
    eval_set: Optional[str] = None             # ssh only: .npz {x, y} so accuracy is measured on the board
    engine: str = LITERT_TOOL                  # host only: HOST_ENGINES; the tool falls back to the worker
    profile: bool = False                      # per-op profile beside the timing (host, android)

    # The three ways a benchmark is asked for, side by side.
    @classmethod
    def from_recipe(cls, b, eval_set: Optional[str] = None) -> "BenchOptions":
        """The stage `benchmark`: the recipe's `benchmark:` section (`eval_set` for ssh boards)."""
        return cls(threads=tuple(b.threads), runs=b.runs, warmup=b.warmup, warmup_min_s=b.warmup_min_s,
                   processes=b.processes, delegates=tuple(b.delegates), android_binary=b.android_binary,
                   engine=b.engine, eval_set=eval_set, profile=b.profile)

    @classmethod
    def for_search(cls, recipe, runs: int, warmup: int, warmup_min_s: float = 0.0,
                   processes: int = 1) -> "BenchOptions":
        """A search trial (or its target probe): `search.threads` only, the recipe's Android binary."""
        return cls(threads=(recipe.search.threads,), runs=runs, warmup=warmup, warmup_min_s=warmup_min_s,
                   processes=processes, android_binary=recipe.benchmark.android_binary)

    @classmethod
    def from_args(cls, args) -> "BenchOptions":
        """`tflite-edge bench`'s flags."""
        return cls(threads=tuple(args.threads), runs=args.runs, warmup=args.warmup,
                   warmup_min_s=args.warmup_min_secs, processes=args.processes,
                   delegates=tuple(d for d in args.delegates.split(",") if d),
                   android_binary=args.benchmark_binary, engine=args.engine,
                   profile=getattr(args, "profile", False))
