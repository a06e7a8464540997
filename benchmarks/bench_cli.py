"""What the figure scripts share: one timing through `tflite-edge bench`, as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def bench_p50(model: Path, runs: int) -> float:
    """p50 (ms) of `model` on the host: `tflite-edge bench --json` (LiteRT's benchmark tool, the
    benchmark stage's engine), one thread."""
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "bench", str(model), "--target", "host",
                           "--runs", str(runs), "--json"], capture_output=True, text=True, check=True)
    rows = json.loads(proc.stdout)
    return (rows[0] if isinstance(rows, list) else rows)["latency_ms_p50"]


def interleaved_p50(models: dict, rounds: int, runs: int) -> dict:
    """{key: [p50 of each round]} for {key: model path}: every model once per round, the order
    rotated each round, so a slow spell of the machine falls on all of them alike."""
    keys = list(models)
    out = {k: [] for k in keys}
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            out[k].append(bench_p50(models[k], runs))
    return out
