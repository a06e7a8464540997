"""Benchmark targets. A target string is KIND or KIND:ARG (android:SERIAL, ssh:USER@HOST, coral:usb).

Each registered runner has the signature
`(model_path, arg, threads, runs, warmup) -> list[dict]` and returns one record per thread
count with the host fields (latency_ms_p50, latency_ms_p90, ... see bench/host.py).
"""
from ..registry import Registry

TARGETS = Registry("benchmark target")


@TARGETS.register("host", summary="this machine, ai_edge_litert in a fresh subprocess")
def _host(model_path, arg, threads, runs, warmup):
    from .host import benchmark_host

    return [benchmark_host(model_path, threads=t, runs=runs, warmup=warmup) for t in threads]


@TARGETS.register("android", summary="an Android device over adb (android[:SERIAL])")
def _android(model_path, arg, threads, runs, warmup):
    from .android import benchmark_android

    return benchmark_android(model_path, serial=arg, threads=list(threads), runs=runs, warmup=warmup)


@TARGETS.register("ssh", summary="a Linux board over SSH (ssh:USER@HOST), our host harness there")
def _ssh(model_path, arg, threads, runs, warmup):
    from .ssh import benchmark_ssh

    return benchmark_ssh(model_path, host=arg, threads=list(threads), runs=runs, warmup=warmup)


@TARGETS.register("coral", summary="a Coral Edge TPU (coral[:usb|pci:N]) through libedgetpu")
def _coral(model_path, arg, threads, runs, warmup):
    from .coral import benchmark_coral

    return [benchmark_coral(model_path, device=arg, runs=runs, warmup=warmup)]


def run_target(target: str, model_path, threads, runs, warmup):
    kind, _, arg = target.partition(":")
    return TARGETS.get(kind)(model_path, arg or None, threads, runs, warmup)
