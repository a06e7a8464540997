"""Benchmark targets. A target string is KIND or KIND:ARG (android:SERIAL, ssh:USER@HOST, coral:usb).

Each registered runner has the signature `(model_path, arg, options) -> list[dict]` and returns one
record per configuration with the host fields (latency_ms_p50, latency_ms_p90, ... see host_worker).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from ..registry import Registry

TARGETS = Registry("benchmark target")


@dataclass(frozen=True)
class BenchOptions:
    threads: Tuple[int, ...] = (1,)
    runs: int = 50
    warmup: int = 5
    delegates: Tuple[str, ...] = ("xnnpack",)  # android only: xnnpack, gpu, nnapi
    android_binary: Optional[str] = None       # LiteRT benchmark_model for the device (android_bench/)
    eval_set: Optional[str] = None             # ssh only: .npz {x, y} so accuracy is measured on the board


@TARGETS.register("host", summary="this machine, ai_edge_litert in a fresh subprocess")
def _host(model_path, arg, o: BenchOptions):
    from .host import benchmark_host

    return [benchmark_host(model_path, threads=t, runs=o.runs, warmup=o.warmup) for t in o.threads]


@TARGETS.register("android", summary="an Android device over adb (android[:SERIAL])")
def _android(model_path, arg, o: BenchOptions):
    from .android import benchmark_android

    binary = Path(o.android_binary) if o.android_binary else None
    return benchmark_android(Path(model_path), serial=arg, binary=binary, threads=o.threads,
                             delegates=o.delegates, runs=o.runs, warmup=o.warmup)


@TARGETS.register("ssh", summary="a Linux board over SSH (ssh:USER@HOST), our host harness there")
def _ssh(model_path, arg, o: BenchOptions):
    from ..errors import UserInputError
    from .ssh import benchmark_ssh

    if not arg:
        raise UserInputError("target ssh needs a destination: ssh:USER@HOST")
    return benchmark_ssh(Path(model_path), arg, threads=o.threads, runs=o.runs, warmup=o.warmup,
                         eval_set=Path(o.eval_set) if o.eval_set else None)


@TARGETS.register("coral", summary="a Coral Edge TPU (coral[:usb|pci:N]) through libedgetpu")
def _coral(model_path, arg, o: BenchOptions):
    from .coral import benchmark_coral

    return [benchmark_coral(model_path, device=arg, runs=o.runs, warmup=o.warmup)]


def run_target(target: str, model_path, options: BenchOptions):
    kind, _, arg = target.partition(":")
    return TARGETS.get(kind)(model_path, arg or None, options)
