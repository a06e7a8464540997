"""The host engine `benchmark_litert_model`: real runs of the wheel's tool, its samples, the fallback.

The parser's side is tested on recorded output in test_bench_parse.py; here the tool really runs.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tflite_edge.bench import LITERT_TOOL, PYTHON_WORKER, host, litert_tool, parse
from tflite_edge.errors import UserInputError

TINY = Path(__file__).parent / "corpus" / "seeds" / "tiny_float32.tflite"


def test_the_launcher_prints_the_tools_output_and_its_full_resolution_samples():
    # The contract the engine relies on: the tool's `percentile` gets its sorted timed invocations.
    # If a new ai-edge-litert changes that, this fails (and benchmark_host falls back, saying so).
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.bench.litert_tool",
                           *litert_tool.tool_argv(TINY, threads=1, runs=7, warmup_runs=2)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = parse.summarize_benchmark(proc.stdout + "\n" + proc.stderr, "xnnpack")
    extra = litert_tool.extra_fields(proc.stdout)
    assert summary["error"] is None and summary["runs_measured"] == 7 and summary["warmup_invocations"] == 2
    samples = extra["samples_ms"]
    assert len(samples) == 7 and samples == sorted(samples) and min(samples) > 0
    assert f"{statistics.median(samples):.2f}" == f"{summary['latency_ms_p50']:.2f}"
    assert extra["peak_memory_mb"] > 10 and extra["model_memory_mb"] >= 0 and extra["cpu_busy"] > 0


def test_host_rows_timed_by_the_tool_have_the_report_fields():
    r = host.benchmark_host(TINY, threads=2, runs=6, warmup=1, warmup_min_s=0.05, processes=2)
    assert r["engine"] == LITERT_TOOL and "engine_fallback" not in r
    assert r["threads"] == 2 and r["runs"] == 6 and r["processes"] == 2 and len(r["latency_ms_p50_by_process"]) == 2
    for key in ("latency_ms_p5", "latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
                "latency_ms_mean", "latency_ms_std", "latency_ms_min", "latency_ms_max", "init_ms",
                "first_inference_ms", "peak_memory_mb", "model_memory_mb", "cpu_busy", "steal_percent"):
        assert key in r, key
    assert 0 < r["latency_ms_min"] <= r["latency_ms_p50"] <= r["latency_ms_p99"] <= r["latency_ms_max"]
    assert r["init_ms"] > 0 and r["first_inference_ms"] > 0 and r["peak_memory_mb"] > 10
    assert r["fully_accelerated"] is True and r["delegate"] == "xnnpack" and "samples_ms" not in r
    # 0.05 s of warm-up is far more than one invocation of a tiny model: the count follows the duration
    assert r["warmup_min_s"] == 0.05 and r["warmup_invocations"] > 2 * 1


def test_the_tool_and_the_worker_fill_the_same_fields():
    tool = host.benchmark_host(TINY, runs=3, warmup=0, warmup_min_s=0)
    worker = host.benchmark_host(TINY, runs=3, warmup=0, warmup_min_s=0, engine=PYTHON_WORKER)
    assert worker["engine"] == PYTHON_WORKER and "engine_fallback" not in worker
    assert set(worker) - set(tool) == set()  # the tool's rows carry every field the worker's do


def test_a_model_the_tool_rejects_is_timed_by_the_worker_and_the_row_says_why(tmp_path):
    from tflite_edge import compat

    tf, keras = compat.tf(), compat.keras()
    import numpy as np

    # Sparse int8 (Optimize.EXPERIMENTAL_SPARSITY): XNNPACK cannot prepare it, so CompiledModel
    # fails, while the worker runs it on the builtin kernels.
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Conv2D(16, 3)(inputs))))
    rng = np.random.default_rng(0)
    model.set_weights([np.where(rng.random(w.shape) < 0.8, 0, w) for w in model.get_weights()])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    conv.representative_dataset = lambda: ([rng.random((1, 8, 8, 3), dtype=np.float32)] for _ in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = tmp_path / "sparse_int8.tflite"
    path.write_bytes(conv.convert())
    r = host.benchmark_host(path, runs=3, warmup=0, warmup_min_s=0)
    assert r["engine"] == PYTHON_WORKER and r["latency_ms_p50"] > 0
    assert r["engine_fallback"].startswith("benchmark_litert_model failed: ")
    assert r["delegate"].startswith("builtin")


def test_fallbacks_that_need_no_model(monkeypatch):
    pinned = host.benchmark_host(TINY, runs=2, warmup=0, warmup_min_s=0, pin_threads=True)
    assert pinned["engine"] == PYTHON_WORKER and "pinning" in pinned["engine_fallback"]
    monkeypatch.setattr(litert_tool, "tool_missing", lambda: "benchmark_litert_model is not installed (test)")
    r = host.benchmark_host(TINY, runs=2, warmup=0, warmup_min_s=0)
    assert r["engine"] == PYTHON_WORKER and r["engine_fallback"] == "benchmark_litert_model is not installed (test)"


def test_unreadable_samples_are_a_fallback_not_a_wrong_figure(monkeypatch):
    real_run = subprocess.run

    def without_samples(cmd, **kw):
        proc = real_run(cmd, **kw)
        if "tflite_edge.bench.litert_tool" in cmd:
            proc.stdout = "\n".join(l for l in proc.stdout.splitlines() if not l.startswith(litert_tool.MARK))
        return proc

    monkeypatch.setattr(host.subprocess, "run", without_samples)
    r = host.benchmark_host(TINY, runs=2, warmup=0, warmup_min_s=0)
    assert r["engine"] == PYTHON_WORKER and "timed invocations" in r["engine_fallback"]


def test_unknown_engine_and_missing_tool_reason():
    with pytest.raises(UserInputError, match="host engine 'cpp'"):
        host.benchmark_host(TINY, engine="cpp")
    assert litert_tool.tool_missing() is None  # the pinned wheel ships it


def test_warm_up_count_from_a_duration():
    assert litert_tool.warmup_runs_for(5, 0.5, 0.1) == 5000
    assert litert_tool.warmup_runs_for(5, 0.5, 1000.0) == 5  # the count when it is longer
    assert litert_tool.warmup_runs_for(3, 0.0, 0.1) == 3 and litert_tool.warmup_runs_for(3, 0.5, None) == 3


def test_extra_fields_line():
    assert litert_tool.extra_fields("x\n@@TFLITE_EDGE " + json.dumps({"samples_ms": [1.5]}) + "\n") == {"samples_ms": [1.5]}
    assert litert_tool.extra_fields("no marker here") is None


def test_peak_memory_is_the_benchmark_processs_own():
    # getrusage's ru_maxrss survives execve: a child of a process holding 600 MB (a pipeline with
    # TensorFlow loaded) reported 600 MB of peak memory and 0 MB for the model.
    code = ("import numpy as np, json; held = np.ones(300 * 2**20 // 8)\n"
            "from tflite_edge.bench.host import benchmark_host\n"
            f"print(json.dumps([benchmark_host({str(TINY)!r}, runs=2, warmup=0, warmup_min_s=0, engine=e)['peak_memory_mb']"
            " for e in ('benchmark_litert_model', 'python_worker')]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tool_mb, worker_mb = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 10 < tool_mb < 250 and 10 < worker_mb < 250
