"""Benchmark targets. A target string is KIND or KIND:ARG (android:SERIAL, ssh:USER@HOST, coral:usb).

Each registered runner has the signature `(model_path, arg, options) -> list[dict]` and returns one
row per configuration: a `bench.record.BenchRecord` as its dict (latency_ms_p50, init_ms, ...).
The options and their defaults live in `bench/options.py` (re-exported here), so the target modules
never import this package back.
"""
from __future__ import annotations

from pathlib import Path

from ..registry import Registry
from .options import HOST_ENGINES, LITERT_TOOL, PROCESSES, PYTHON_WORKER, WARMUP_MIN_S, BenchOptions

__all__ = ["BenchOptions", "HOST_ENGINES", "LITERT_TOOL", "PROCESSES", "PYTHON_WORKER", "TARGETS", "WARMUP_MIN_S",
           "run_target", "run_targets"]

TARGETS = Registry("benchmark target")


@TARGETS.register("host", summary="this machine: LiteRT's benchmark_litert_model (or our worker) in fresh processes")
def _host(model_path, arg, o: BenchOptions):
    from .host import benchmark_host

    records = [benchmark_host(model_path, threads=t, runs=o.runs, warmup=o.warmup, warmup_min_s=o.warmup_min_s,
                              processes=o.processes, engine=o.engine) for t in o.threads]
    if o.profile:  # LiteRT's own profiler, in its own process after the timing (it slows each op)
        from .litert_profile import profile_host

        for r in records:
            r["op_profile"] = profile_host(model_path, threads=r.get("threads") or 1, runs=max(o.runs, 100),
                                           warmup=o.warmup, warmup_min_s=o.warmup_min_s)
    return records


# remote=True: the work runs on another machine, so such targets run side by side (several phones
# and boards at once); host and coral time this machine's CPU or USB bus and run one at a time.
@TARGETS.register("android", summary="an Android device over adb (android[:SERIAL])", remote=True)
def _android(model_path, arg, o: BenchOptions):
    from .android import benchmark_android

    binary = Path(o.android_binary) if o.android_binary else None
    return benchmark_android(Path(model_path), serial=arg, binary=binary, threads=o.threads,
                             delegates=o.delegates, runs=o.runs, warmup=o.warmup,
                             warmup_min_s=o.warmup_min_s, profile_ops=o.profile)


@TARGETS.register("ssh", summary="a Linux board over SSH (ssh:USER@HOST), our host harness there", remote=True)
def _ssh(model_path, arg, o: BenchOptions):
    from ..errors import UserInputError
    from .ssh import benchmark_ssh

    _no_profile("ssh", o)
    if not arg:
        raise UserInputError("target ssh needs a destination: ssh:USER@HOST")
    return benchmark_ssh(Path(model_path), arg, threads=o.threads, runs=o.runs, warmup=o.warmup,
                         warmup_min_s=o.warmup_min_s, processes=o.processes,
                         eval_set=Path(o.eval_set) if o.eval_set else None)


@TARGETS.register("coral", summary="a Coral Edge TPU (coral[:usb|pci:N]) through libedgetpu")
def _coral(model_path, arg, o: BenchOptions):
    from .coral import benchmark_coral

    _no_profile("coral", o)
    return [benchmark_coral(model_path, device=arg, runs=o.runs, warmup=o.warmup,
                            warmup_min_s=o.warmup_min_s)]


PROFILING_TARGETS = ("host", "android")


def _no_profile(kind: str, o: BenchOptions) -> None:
    if o.profile:
        from ..errors import UserInputError

        raise UserInputError(f"profile: target {kind} cannot profile ops; targets that can: "
                             f"{', '.join(PROFILING_TARGETS)} (drop --profile / benchmark.profile for {kind})")


def run_target(target: str, model_path, options: BenchOptions):
    kind, _, arg = target.partition(":")
    return TARGETS.get(kind)(model_path, arg or None, options)


def run_targets(targets, model_path, options: BenchOptions) -> dict:
    """{target: records, or the EdgeError it raised}, in the order given. Remote targets (phones,
    boards) run in parallel, then the local ones one after another, with nothing else running."""
    from concurrent.futures import ThreadPoolExecutor

    from ..errors import EdgeError

    def guarded(target):
        try:
            return run_target(target, model_path, options)
        except EdgeError as e:  # one target failing does not stop the others
            return e

    kinds = set(TARGETS.names())
    remote = [t for t in targets if (k := t.partition(":")[0]) in kinds and TARGETS.meta(k).get("remote")]
    done = {}
    if len(remote) > 1:
        with ThreadPoolExecutor(max_workers=min(8, len(remote))) as pool:
            done.update(zip(remote, pool.map(guarded, remote)))
    for t in targets:
        if t not in done:
            done[t] = guarded(t)
    return {t: done[t] for t in targets}
