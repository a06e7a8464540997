"""Formats, atomic artifacts, safe model loading, and the host benchmark harness."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tflite_edge.errors import UserInputError


@pytest.fixture(scope="module")
def small_model():
    from tflite_edge import compat
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    compat.keras().utils.set_random_seed(0)
    return build_classifier(ModelSpec(name="plain_cnn", width=0.25), InputSpec(16, 16, 3), 3)


CALIB = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
INPUT_DTYPES = {"float32": np.float32, "float16": np.float32, "dynamic": np.float32, "int8": np.float32,
                "int8_io": np.int8, "uint8_io": np.uint8, "int16x8": np.float32}


@pytest.mark.parametrize("fmt", sorted(INPUT_DTYPES))
def test_every_format_converts_and_runs(small_model, fmt, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge.export import convert_keras, write_artifact

    info = write_artifact(convert_keras(small_model, fmt, CALIB), tmp_path / "m.tflite", fmt)
    interp = Interpreter(model_path=str(tmp_path / "m.tflite"))
    interp.allocate_tensors()
    assert interp.get_input_details()[0]["dtype"] == INPUT_DTYPES[fmt]
    assert info["size_bytes"] == (tmp_path / "m.tflite").stat().st_size


def test_integer_format_without_calibration_is_refused(small_model):
    from tflite_edge.export import convert_keras

    with pytest.raises(UserInputError, match="calibration"):
        convert_keras(small_model, "int8", None)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from tflite_edge import atomic

    target = tmp_path / "a.tflite"
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic.write_bytes(target, b"x" * 100)
    assert list(tmp_path.iterdir()) == []


def test_lambda_layer_refused_unless_trusted(tmp_path):
    from tflite_edge import compat
    from tflite_edge.model_io import load_keras_model

    keras = compat.keras()
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp))
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"lam{suffix}"
        model.save(path)
        with pytest.raises(UserInputError, match="Lambda"):
            load_keras_model(path)
    assert load_keras_model(tmp_path / "lam.h5", trust_lambda=True) is not None


def test_not_a_model_file(tmp_path):
    from tflite_edge.model_io import load_keras_model

    bad = tmp_path / "m.keras"
    bad.write_text("hello")
    with pytest.raises(UserInputError, match="not a loadable Keras model"):
        load_keras_model(bad)


def test_host_benchmark_fields(tiny_run):
    from tflite_edge.bench.host import benchmark_host

    _, run_dir, report = tiny_run
    art = next(a for a in report["artifacts"] if a["format"] == "int8")
    r = benchmark_host(run_dir / art["path"], threads=2, runs=20, warmup=2)
    assert r["threads"] == 2 and r["runs"] == 20 and r["delegate"] == "xnnpack"
    assert r["engine"] == "benchmark_litert_model" and "engine_fallback" not in r  # LiteRT's own tool timed it
    # Warm-up is a count and a duration (0.5 s by default): far more than 2 invokes of a tiny model.
    assert r["warmup_min_s"] == 0.5 and r["warmup_invocations"] > 2
    assert r["cpu_busy"] > 0 and (r["steal_percent"] is None or 0 <= r["steal_percent"] <= 100)
    assert 0 < r["latency_ms_min"] <= r["latency_ms_p50"] <= r["latency_ms_p90"] <= r["latency_ms_p99"]
    assert r["init_ms"] > 0 and r["first_inference_ms"] > 0 and r["peak_memory_mb"] > 10
    assert r["thread_pinning"] == "none"
    pinned = benchmark_host(run_dir / art["path"], threads=2, runs=20, warmup=2, pin_threads=True, warmup_min_s=0)
    assert pinned["warmup_invocations"] == 2
    assert pinned["engine"] == "python_worker" and "pinning" in pinned["engine_fallback"]  # only the worker pins
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    assert pinned["thread_pinning"] == ("spread" if cpus >= 2 else "none")


def test_truncated_and_foreign_files_are_refused(tiny_run, tmp_path):
    from tflite_edge.bench.host import benchmark_host

    _, run_dir, report = tiny_run
    data = (run_dir / report["artifacts"][0]["path"]).read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(UserInputError, match="cut.tflite: truncated or corrupt TFLite model"):
        benchmark_host(cut, runs=1, warmup=0)
    png = tmp_path / "x.tflite"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    with pytest.raises(UserInputError, match="not a TFLite model"):
        benchmark_host(png)


def test_cli_bench_json_matches_report_fields(tiny_run):
    _, run_dir, report = tiny_run
    path = run_dir / report["artifacts"][0]["path"]
    host = report["artifacts"][0]["benchmark"]["host"]
    # The benchmark stage profiles float32 and int8 where int8 came out slower (timing decides):
    # then the row has op_profile, which bench gives with --profile.
    profile = ["--profile"] if "op_profile" in host else []
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "bench", str(path), "--runs", "5",
                           "--threads", "1,2", "--json", *profile], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["threads"] for r in rows] == [1, 2]
    assert set(host) <= set(rows[0]) | {"sweep"}


def test_warm_up_lasts_the_count_and_the_duration():
    from tflite_edge.bench.host_worker import time_invocations

    class Clock:  # an interpreter whose invoke takes 1 ms
        calls = 0

        def invoke(self):
            self.calls += 1
            time.sleep(0.001)

    fast = time_invocations(Clock(), runs=3, warmup=4, warmup_min_s=0.0)
    assert fast["warmup_invocations"] == 4
    t0 = time.perf_counter()
    interp = Clock()
    slow = time_invocations(interp, runs=3, warmup=1, warmup_min_s=0.05)
    assert time.perf_counter() - t0 >= 0.05 and slow["warmup_invocations"] > 4
    assert interp.calls == 1 + slow["warmup_invocations"] + 3  # first inference, warm-up, timed


def test_runs_spread_over_processes_are_pooled(tiny_run):
    from tflite_edge.bench.host import benchmark_host

    _, run_dir, report = tiny_run
    art = next(a for a in report["artifacts"] if a["format"] == "int8")
    r = benchmark_host(run_dir / art["path"], runs=10, warmup=1, warmup_min_s=0, processes=3)
    assert r["runs"] == 10 and r["processes"] == 3 and len(r["latency_ms_p50_by_process"]) == 3
    assert "samples_ms" not in r  # pooled, not copied into the report
    by_process = r["latency_ms_p50_by_process"]
    assert min(by_process) <= r["latency_ms_p50"] <= max(by_process)
    assert len(r["cpu_busy_by_process"]) == 3 and r["cpu_busy"] == min(r["cpu_busy_by_process"])
    assert r["warmup_invocations"] == 3  # one untimed invoke per process
    few = benchmark_host(run_dir / art["path"], runs=2, warmup=0, warmup_min_s=0, processes=3)
    assert few["processes"] == 2 and few["runs"] == 2  # never more processes than timed runs


def test_pooling_takes_percentiles_over_every_invocation():
    from tflite_edge.bench.host import pool_processes as _pool

    def part(samples, init):
        return {"threads": 1, "runs": len(samples), "samples_ms": samples, "latency_ms_p50": float(np.median(samples)),
                "warmup_invocations": 2, "init_ms": init, "first_inference_ms": init,
                "peak_memory_mb": init, "model_memory_mb": init}

    # One process in a slow mode moves a single-process p50 by 50%; the pooled p50 stays put.
    pooled = _pool([part([1.0] * 5, 10.0), part([1.0] * 5, 30.0), part([1.5] * 5, 20.0)])
    assert pooled["latency_ms_p50"] == 1.0 and pooled["latency_ms_max"] == 1.5 and pooled["runs"] == 15
    assert pooled["latency_ms_p50_by_process"] == [1.0, 1.0, 1.5] and pooled["warmup_invocations"] == 6
    assert pooled["init_ms"] == 20.0 and pooled["peak_memory_mb"] == 30.0
