"""Coral benchmark: a compiled model on an Edge TPU through libedgetpu's TFLite delegate.

Same record as the host target (bench/record.py) so reports compare side by side.

    >>> benchmark_coral("model_edgetpu.tflite", device="usb:0")   # doctest: +SKIP
    {'threads': 1, 'runs': 50, ..., 'delegate': 'edgetpu (usb:0)'}
"""
from __future__ import annotations

import ctypes
import gc
import re
import sys
import time
from pathlib import Path

from .host_worker import time_invocations
from .options import PYTHON_WORKER, WARMUP_MIN_S
from .record import BenchRecord
from ..errors import DeviceUnavailable, UserInputError

EDGETPU_LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib",
                   "win32": "edgetpu.dll"}.get(sys.platform, "libedgetpu.so.1")
_DEVICE = re.compile(r"^(usb|pci)(:\d+)?$")
_INSTALL_HINT = ("install the Edge TPU runtime (Debian/Ubuntu: `apt-get install libedgetpu1-std` "
                 "from Coral's package repository, see converters/README.md)")


def benchmark_coral(model_path, *, device: str | None = None, runs: int = 50, warmup: int = 5,
                    warmup_min_s: float = WARMUP_MIN_S) -> dict:
    """Latency percentiles, init and first-inference time of a model on an Edge TPU."""
    model_path = Path(model_path)
    _check_arguments(model_path, device, runs, warmup)
    delegate = _load_delegate(device)
    from ..runtime import interpreter_module, random_inputs

    interpreter_mod = interpreter_module()
    t0 = time.perf_counter_ns()
    try:
        interp = interpreter_mod.Interpreter(model_path=str(model_path), experimental_delegates=[delegate],
                                             num_threads=1)
        interp.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        raise UserInputError(f"{model_path}: the Edge TPU delegate cannot prepare this model ({_first(e)}); "
                             "compile it with `tflite-edge edgetpu compile` first") from None
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    for detail, value in zip(interp.get_input_details(), random_inputs(interp)):
        interp.set_tensor(detail["index"], value)
    result = BenchRecord(threads=1, **time_invocations(interp, runs, warmup, warmup_min_s))
    return result.update(init_ms=init_ms, delegate=f"edgetpu ({device or 'first available'})", engine=PYTHON_WORKER,
                         edgetpu_compiled=_is_compiled(model_path)).to_dict()


def _check_arguments(model_path: Path, device, runs: int, warmup: int) -> None:
    from ..edgetpu import load_flatbuffer

    load_flatbuffer(model_path)
    if device is not None and not _DEVICE.match(device):
        raise UserInputError(f"device {device!r}: expected usb, usb:N, pci or pci:N (e.g. coral:usb:0)")
    if runs < 1 or warmup < 0:
        raise UserInputError(f"runs={runs}, warmup={warmup}: runs must be >= 1 and warmup >= 0")


def _load_delegate(device: str | None):
    try:
        ctypes.CDLL(EDGETPU_LIBRARY)
    except OSError:
        raise DeviceUnavailable(f"Edge TPU runtime {EDGETPU_LIBRARY} not found; {_INSTALL_HINT}") from None
    from ..runtime import interpreter_module

    options = {"device": device} if device else {}
    # A failed load_delegate leaves a half-built Delegate whose __del__ prints a traceback.
    previous_hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        try:
            return interpreter_module().load_delegate(EDGETPU_LIBRARY, options)
        except (ValueError, RuntimeError, OSError) as e:
            error = _first(e)
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    raise DeviceUnavailable(f"no Edge TPU found{' at ' + device if device else ''} ({error}); "
                            "plug in the USB Accelerator or check the PCIe driver (ls /dev/apex_*) "
                            "and that this user may access it")


def _is_compiled(model_path: Path) -> bool:
    """True when the compiler's `edgetpu-custom-op` is present; otherwise everything runs on the CPU."""
    from ..edgetpu import TFLiteGraph, load_flatbuffer

    g = TFLiteGraph(load_flatbuffer(model_path), model_path)
    return any(g.op_name(op) == "edgetpu-custom-op" for op in g.sg.operators or [])


def _first(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:160] if text else type(e).__name__
