"""Pin down the host harness against LiteRT's own benchmark tool on the same models and threads.

    .venv/bin/python benchmarks/harness_vs_litert_tool.py [MODEL.tflite ...]

Without arguments it builds MobileNetV2 1.0 at 224 px and 0.5 at 128 px (untrained weights, float32
and int8 calibrated on noise: latency does not depend on the weights' values) in a temp folder.

For each model and thread count: p50 from `tflite-edge bench` (our harness, a fresh process) and
the median from `python -m ai_edge_litert.tools.benchmark_litert_model`, and their ratio. Runs
alternate between the two tools, three rounds each, to spread out machine noise.

Since issue 16, `tflite-edge bench` times host rows with that same tool by default (report field
`engine`), so this script compares the tool with itself; `benchmarks/host_vs_litert_tool.py` is the
current figure (its `--with-worker` also times our Python worker).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 200


def ours(model: Path, threads: int) -> float:
    out = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "bench", str(model), "--threads", str(threads),
                          "--runs", str(RUNS), "--warmup", "20", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["latency_ms_p50"]


def reference(model: Path, threads: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        result = Path(d) / "r.json"
        subprocess.run([sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={model}",
                        f"--num_threads={threads}", f"--num_runs={RUNS}", "--warmup_runs=20",
                        f"--result_json={result}"], capture_output=True, text=True, check=True)
        data = json.loads(result.read_text())
    return _median_ms(data)


def _median_ms(data) -> float:
    # The tool's JSON schema: look for the inference latency median in ms, accepting the spellings seen.
    # ai_edge_litert 2.3.0 writes {"latency": {"median_ms": ..., ...}} rounded to 0.01 ms,
    # so compare on models slower than ~1 ms.
    for key in ("median_ms",):
        if key in data:
            return float(data[key])
    for section in data.values() if isinstance(data, dict) else []:
        if isinstance(section, dict):
            try:
                return _median_ms(section)
            except KeyError:
                continue
    raise KeyError(f"no median latency in {list(data)[:10]}")


def make_models(folder: Path) -> list:
    import numpy as np

    from tflite_edge import compat
    from tflite_edge.export import convert_keras
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    compat.keras().utils.set_random_seed(0)
    paths = []
    for width, size in ((1.0, 224), (0.5, 128)):
        model = build_classifier(ModelSpec(name="mobilenet_v2", width=width), InputSpec(size, size, 3), 1000)
        calib = np.random.default_rng(0).uniform(-1, 1, (16, size, size, 3)).astype(np.float32)
        for fmt in ("float32", "int8"):
            p = folder / f"mobilenet_v2_{width}_{size}_{fmt}.tflite"
            p.write_bytes(convert_keras(model, fmt, calib))
            paths.append(p)
    return paths


def main(models):
    if not models:
        models = make_models(Path(tempfile.mkdtemp()))
    print(f"{'model':<40} thr  ours_p50_ms  tool_median_ms  ratio")
    for model in map(Path, models):
        for threads in (1, 2):
            a, b = [], []
            for _ in range(3):
                a.append(ours(model, threads))
                b.append(reference(model, threads))
            mine, ref = statistics.median(a), statistics.median(b)
            print(f"{model.name:<40} {threads:>3}  {mine:>11.4f}  {ref:>14.4f}  {mine / ref:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
