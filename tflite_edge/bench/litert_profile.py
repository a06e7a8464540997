"""Per-op profile of a .tflite on this host, by LiteRT's own profiler.

The pinned wheel (ai-edge-litert 2.3.0) ships no `benchmark_model` binary and its Python API has
no profiler switch, but its `libLiteRt.so` exports the runtime's C API, profiler included
(`litert/c/litert_profiler.h`): a CompiledModel created with the runtime option
`enable_profiling = true` records one event per TFLite node invocation and, through XNNPACK's own
profiling, one per XNNPACK operator inside a delegate kernel. This module drives that API with
ctypes, in a fresh process (`python -m tflite_edge.bench.litert_profile MODEL`), the same way
`benchmark_model --enable_op_profiling=true` drives it on a phone:

- CPU accelerator (XNNPACK, the default delegate), `num_threads` as asked, warm-up, then `runs`
  profiled invocations;
- it prints the runtime's own summary (`LiteRtGetProfileSummary`: the ProfileSummarizer tables of
  benchmark_model, parsed by `op_profile.parse_summary`) and one `@@TFLITE_EDGE {...}` line with
  every event aggregated per node (microsecond sums from the raw events, finer than the summary's
  0.001 ms cells) and the per-invocation times of the `Invoke` events and of the wall clock.

Delegate coverage comes from the classic interpreter in the same process: the nodes it replaced
with delegate kernels (`DELEGATE` nodes: the XNNPACK partitions) and the nodes the profile saw run
as plain builtins (the ops that fell out of the delegate).

Signatures used here were checked against the LiteRT sources of the pinned release line
(v2.2.0 .. 2.3 headers are identical for these calls).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time

MARK = "@@TFLITE_EDGE"
RUNTIME_OPTIONS_ID = b"runtime_options_string"   # LrtGetRuntimeOptionsIdentifier()
CPU_OPTIONS_ID = b"xnnpack"                      # LrtGetCpuOptionsIdentifier()
HW_CPU = 1                                        # kLiteRtHwAcceleratorCpu
LOCK_WRITE = 1                                    # kLiteRtTensorBufferLockModeWrite
# LiteRtProfilerEventType
EVENT_DEFAULT, EVENT_OPERATOR, EVENT_DELEGATE_OPERATOR, EVENT_DELEGATE_PROFILED = 1, 2, 4, 8
# LiteRtElementType (= TfLiteType) -> numpy dtype name, for random inputs
ELEMENT_TYPES = {1: "float32", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
                 10: "float16"}


class _Mem(ctypes.Structure):
    _fields_ = [("total", ctypes.c_size_t), ("in_use", ctypes.c_size_t), ("private", ctypes.c_size_t)]


class _Event(ctypes.Structure):  # ProfiledEventData, litert/c/litert_profiler_event.h
    _fields_ = [("tag", ctypes.c_char_p), ("event_type", ctypes.c_int), ("start_us", ctypes.c_uint64),
                ("elapsed_us", ctypes.c_uint64), ("begin_mem", _Mem), ("end_mem", _Mem),
                ("metadata1", ctypes.c_uint64), ("metadata2", ctypes.c_uint64), ("source", ctypes.c_int)]


class LiteRtError(RuntimeError):
    pass


def _library():
    import ai_edge_litert

    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")
    if not os.path.exists(path):
        raise LiteRtError(f"{path} is missing: this ai-edge-litert build has no LiteRT C API (2.3.0 has it)")
    return ctypes.CDLL(path)


class ProfiledModel:
    """One CompiledModel with the profiler on, its input and output buffers allocated."""

    def __init__(self, model_path: str, threads: int):
        self.lib = lib = _library()
        libc = ctypes.CDLL(None)
        libc.strdup.restype = ctypes.c_void_p
        P = ctypes.c_void_p
        self.env, self.model, opts, self.cm, self.sig = P(), P(), P(), P(), P()
        self._ok(lib.LiteRtCreateEnvironment(0, None, ctypes.byref(self.env)), "LiteRtCreateEnvironment")
        self._ok(lib.LiteRtCreateModelFromFile(self.env, os.fsencode(model_path), ctypes.byref(self.model)),
                 f"LiteRtCreateModelFromFile({model_path})")
        self._ok(lib.LiteRtCreateOptions(ctypes.byref(opts)), "LiteRtCreateOptions")
        self._ok(lib.LiteRtSetOptionsHardwareAccelerators(opts, HW_CPU), "LiteRtSetOptionsHardwareAccelerators")
        # Options travel as TOML payloads (litert/c/options/*.cc); the runtime frees them with free().
        for ident, toml in ((RUNTIME_OPTIONS_ID, b"enable_profiling = true\n"),
                            (CPU_OPTIONS_ID, b"num_threads = %d\n" % int(threads))):
            opaque = P()
            self._ok(lib.LiteRtCreateOpaqueOptions(ident, P(libc.strdup(toml)), ctypes.cast(libc.free, P),
                                                   ctypes.byref(opaque)), "LiteRtCreateOpaqueOptions")
            self._ok(lib.LiteRtAddOpaqueOptions(opts, opaque), "LiteRtAddOpaqueOptions")
        self._ok(lib.LiteRtCreateCompiledModel(self.env, self.model, opts, ctypes.byref(self.cm)),
                 "LiteRtCreateCompiledModel")
        self._ok(lib.LiteRtGetModelSignature(self.model, 0, ctypes.byref(self.sig)), "LiteRtGetModelSignature")
        self.inputs = self._buffers("Input")
        self.outputs = self._buffers("Output")
        self.profiler = P()
        self._ok(lib.LiteRtCompiledModelGetProfiler(self.cm, ctypes.byref(self.profiler)),
                 "LiteRtCompiledModelGetProfiler")

    @staticmethod
    def _ok(status: int, what: str) -> None:
        if status != 0:
            raise LiteRtError(f"{what} failed (LiteRtStatus {status})")

    def _buffers(self, kind: str):
        import struct

        import numpy as np

        lib, P = self.lib, ctypes.c_void_p
        count = ctypes.c_size_t()
        self._ok(getattr(lib, f"LiteRtGetNumSignature{kind}s")(self.sig, ctypes.byref(count)), f"{kind} count")
        buffers = []
        rng = np.random.default_rng(0)
        for i in range(count.value):
            tensor, req, buf = P(), P(), P()
            self._ok(getattr(lib, f"LiteRtGetSignature{kind}TensorByIndex")(self.sig, i, ctypes.byref(tensor)),
                     f"{kind} tensor {i}")
            # LiteRtRankedTensorType: element type (int32), then LiteRtLayout (rank in the low 7 bits of
            # a 32-bit bitfield word, then int32 dimensions). A dynamic batch (-1) is run at 1, as the
            # interpreter allocates it.
            ranked = ctypes.create_string_buffer(1024)
            self._ok(lib.LiteRtGetRankedTensorType(tensor, ranked), f"{kind} {i} type")
            element, word = struct.unpack_from("<iI", ranked.raw, 0)
            rank = word & 0x7F
            dims = [1 if d < 0 else d for d in struct.unpack_from(f"<{rank}i", ranked.raw, 8)]
            struct.pack_into(f"<{rank}i", ranked, 8, *dims)
            self._ok(getattr(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements")(self.cm, 0, i, ctypes.byref(req)),
                     f"{kind} {i} requirements")
            self._ok(lib.LiteRtCreateManagedTensorBufferFromRequirements(self.env, ranked, req, ctypes.byref(buf)),
                     f"{kind} {i} buffer")
            if kind == "Input":  # random data, as benchmark_model feeds
                dtype = np.dtype(ELEMENT_TYPES.get(element, "uint8"))
                n = int(np.prod(dims)) if dims else 1
                if dtype.kind == "f":
                    data = rng.uniform(-1, 1, n).astype(dtype)
                elif dtype.kind == "b":
                    data = rng.integers(0, 2, n).astype(dtype)
                else:
                    info = np.iinfo(dtype)
                    data = rng.integers(max(info.min, -128), min(info.max, 127) + 1, n).astype(dtype)
                size = ctypes.c_size_t()
                self._ok(lib.LiteRtGetTensorBufferPackedSize(buf, ctypes.byref(size)), "packed size")
                host = P()
                self._ok(lib.LiteRtLockTensorBuffer(buf, ctypes.byref(host), LOCK_WRITE), "lock")
                raw = data.tobytes()[: size.value]
                ctypes.memmove(host, raw, len(raw))
                self._ok(lib.LiteRtUnlockTensorBuffer(buf), "unlock")
            buffers.append(buf)
        return (P * len(buffers))(*buffers), len(buffers)

    def run(self) -> None:
        (ins, n_in), (outs, n_out) = self.inputs, self.outputs
        self._ok(self.lib.LiteRtRunCompiledModel(self.cm, 0, n_in, ins, n_out, outs), "LiteRtRunCompiledModel")

    def start(self) -> None:
        self._ok(self.lib.LiteRtResetProfiler(self.profiler), "LiteRtResetProfiler")
        self._ok(self.lib.LiteRtStartProfiler(self.profiler), "LiteRtStartProfiler")

    def stop(self) -> None:
        self._ok(self.lib.LiteRtStopProfiler(self.profiler), "LiteRtStopProfiler")

    def summary(self) -> str:
        text = ctypes.c_char_p()
        self._ok(self.lib.LiteRtGetProfileSummary(self.profiler, self.cm, ctypes.byref(text)),
                 "LiteRtGetProfileSummary")
        return (text.value or b"").decode("utf-8", "replace")

    def events(self) -> list:
        n = ctypes.c_int()
        self._ok(self.lib.LiteRtGetNumProfilerEvents(self.profiler, ctypes.byref(n)), "LiteRtGetNumProfilerEvents")
        events = (_Event * n.value)()
        if n.value:
            self._ok(self.lib.LiteRtGetProfilerEvents(self.profiler, n.value, events), "LiteRtGetProfilerEvents")
        return list(events)


def aggregate(events, runs: int, outlier: float = 1.5) -> dict:
    """Per node: tag, kind (cpu: a TFLite builtin kernel; delegate: an operator inside a delegate
    kernel), index (the TFLite node, or the delegate's own operator index), calls and total µs over
    the kept invocations; plus every invocation's `Invoke` time (the interpreter's whole graph).

    Events follow their invocation's `Invoke` event. An invocation slower than `outlier` x the
    median (the process was preempted: on a shared 2-core host one in a few hundred takes 10-50x)
    is left out of the per-op means, and counted: a mean over it would charge the preemption to
    whichever op it hit."""
    invocations = []
    for e in events:
        tag = (e.tag or b"").decode("utf-8", "replace")
        if e.event_type == EVENT_DEFAULT and tag == "Invoke":
            invocations.append((int(e.elapsed_us), []))
        elif e.event_type in (EVENT_OPERATOR, EVENT_DELEGATE_OPERATOR, EVENT_DELEGATE_PROFILED) and invocations:
            kind = "cpu" if e.event_type == EVENT_OPERATOR else "delegate"
            invocations[-1][1].append((kind, int(e.metadata1), tag, int(e.elapsed_us)))
    invocations = invocations[-runs:] if runs else invocations
    invoke_us = [t for t, _ in invocations]
    limit = outlier * sorted(invoke_us)[len(invoke_us) // 2] if invoke_us else 0
    kept = [ops for t, ops in invocations if t <= limit]
    nodes: dict = {}
    for ops in kept:
        for position, (kind, index, tag, elapsed) in enumerate(ops):
            # position tells apart same-index operators of two delegate partitions
            row = nodes.setdefault((position, kind, index, tag), {"tag": tag, "kind": kind, "index": index,
                                                                  "position": position, "calls": 0, "total_us": 0})
            row["calls"] += 1
            row["total_us"] += elapsed
    order = sorted(nodes.values(), key=lambda r: r["position"])
    return {"runs": len(kept), "runs_left_out": len(invocations) - len(kept), "nodes": order, "invoke_us": invoke_us}


def delegate_nodes(model_path: str, threads: int) -> dict:
    """What the classic interpreter (XNNPACK by default) made of the graph: original nodes with
    their op names, and the DELEGATE kernels that replaced some of them (the partitions)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=model_path, num_threads=threads)
    interp.allocate_tensors()
    ops = interp._get_ops_details()  # the public API has no op list; this is the interpreter's own
    names = [o["op_name"] for o in ops if o["op_name"] != "DELEGATE"]
    return {"op_names": names, "partitions": sum(o["op_name"] == "DELEGATE" for o in ops)}


def profile_in_process(model_path: str, threads: int, runs: int, warmup: int, warmup_min_s: float) -> dict:
    model = ProfiledModel(model_path, threads)
    deadline = time.perf_counter() + warmup_min_s
    done = 0
    while done < warmup or time.perf_counter() < deadline:
        model.run()
        done += 1
    model.start()
    wall_us = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        model.run()
        wall_us.append((time.perf_counter_ns() - t0) / 1000.0)
    model.stop()
    result = aggregate(model.events(), runs)
    result.update(wall_us=wall_us, summary=model.summary(), warmup_runs=done, threads=threads,
                  graph=delegate_nodes(model_path, threads))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tflite_edge.bench.litert_profile")
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--warmup-min-s", type=float, default=0.5)
    a = p.parse_args(argv)
    try:
        result = profile_in_process(a.model, a.threads, a.runs, a.warmup, a.warmup_min_s)
    except (LiteRtError, OSError, ValueError) as e:
        print(f"{MARK} " + json.dumps({"error": str(e)}))
        return 1
    print(result.pop("summary"))
    print(f"{MARK} " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def profile_host(model_path, threads: int = 1, runs: int = 200, warmup: int = 5, warmup_min_s: float = 0.5,
                 timeout_s: float = 600) -> dict:
    """The per-op profile record (`op_profile.from_events`) of one model on this host, measured in
    a fresh process. Raises EdgeError when the runtime cannot profile the model."""
    import subprocess

    from ..errors import EdgeError
    from . import op_profile

    argv = [sys.executable, "-m", "tflite_edge.bench.litert_profile", str(model_path), f"--threads={int(threads)}",
            f"--runs={int(runs)}", f"--warmup={int(warmup)}", f"--warmup-min-s={float(warmup_min_s)}"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{model_path}: profiling took more than {timeout_s:.0f} s") from None
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(MARK)), None)
    raw = json.loads(line[len(MARK):]) if line else None
    if proc.returncode != 0 or raw is None or "error" in raw:
        why = (raw or {}).get("error") or (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        if proc.returncode < 0:
            why = f"the profiling process was killed by signal {-proc.returncode}"
        raise EdgeError(f"{model_path}: LiteRT's profiler could not profile it ({why})")
    graph = raw.get("graph") or {}
    return op_profile.from_events(raw, graph.get("op_names"), graph.get("partitions"))
