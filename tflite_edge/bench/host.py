"""Host benchmark: each measurement in a fresh `host_worker` subprocess (see its docstring)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import EdgeError, UserInputError
from . import WARMUP_MIN_S


def check_tflite_file(path: Path) -> None:
    """Refuse files that are not TFLite flatbuffers before any interpreter touches them."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: file not found")
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise UserInputError(f"{path}: not a TFLite model (no TFL3 identifier); convert it with "
                             "`tflite-edge convert`")


def benchmark_host(model_path, threads: int = 1, runs: int = 50, warmup: int = 5, timeout_s: float = 600,
                   pin_threads: bool = False, warmup_min_s: float = WARMUP_MIN_S) -> dict:
    """Latency percentiles, init and first-inference time, peak memory of one model on this host."""
    check_tflite_file(model_path)
    cmd = [sys.executable, "-m", "tflite_edge.bench.host_worker", "--model", str(model_path),
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup),
           "--warmup-min-secs", repr(float(warmup_min_s))]
    if pin_threads:
        cmd.append("--pin-threads")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{model_path}: benchmark took over {timeout_s:.0f}s; lower --runs") from None
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    if proc.returncode == 2 and result and "error" in result:
        raise UserInputError(f"{model_path}: the interpreter cannot load this model ({result['error']}); "
                             "the file may be truncated or use unsupported ops")
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EdgeError(f"{model_path}: benchmark process failed (exit {proc.returncode}): {tail[:200]}")
    result["target"] = "host"
    return result
