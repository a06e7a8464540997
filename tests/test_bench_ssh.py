"""SSH harness through LocalTransport: the same commands, run as local subprocesses (no network)."""

import json
import sys
from pathlib import Path

import pytest

from tflite_edge.bench import ssh
from tflite_edge.errors import UserInputError

FAKE_WORKER = """
import argparse, json, sys
p = argparse.ArgumentParser()
for flag in ("--model", "--threads", "--runs", "--warmup", "--warmup-min-secs", "--eval-set"):
    p.add_argument(flag)
p.add_argument("--samples", action="store_true")
a = p.parse_args()
with open(a.model + ".calls", "a") as log:
    log.write(f"runs={a.runs} eval={a.eval_set is not None} samples={a.samples}\\n")
if a.threads == "3":
    sys.exit("ModuleNotFoundError: No module named 'ai_edge_litert'")
open(a.model, "rb").read()
print("some library log line")
print(json.dumps({"threads": int(a.threads), "runs": int(a.runs), "warmup": int(a.warmup),
                  "latency_ms_p50": 1.5, "latency_ms_mean": 1.6, "delegate": "xnnpack",
                  "warmup_invocations": 2, "init_ms": 5.0, "first_inference_ms": 2.0,
                  "peak_memory_mb": 30.0, "model_memory_mb": 10.0,
                  **({"samples_ms": [1.5] * int(a.runs)} if a.samples else {}),
                  **({"accuracy": 0.9} if a.eval_set else {})}))
"""


@pytest.fixture
def setup(tmp_path):
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WORKER)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"TFL3")
    evalset = tmp_path / "eval.npz"
    evalset.write_bytes(b"npz")
    return ssh.LocalTransport(tmp_path / "board"), (sys.executable, str(worker)), model, evalset


def test_worker_json_per_thread_count_with_eval_set(setup):
    transport, worker, model, evalset = setup
    rows = ssh.benchmark_ssh(model, "pi@board", threads=[1, 4], runs=7, warmup=2, eval_set=evalset,
                             transport=transport, worker=worker)
    assert [r["threads"] for r in rows] == [1, 4]
    assert rows[0]["runs"] == 7 and rows[0]["accuracy"] == 0.9 and rows[0]["target"] == "ssh:local"
    assert rows[0]["device"]["cores"] >= 1
    assert (transport.root / "tmp/tflite_edge/m.tflite").read_bytes() == b"TFL3"


def test_processes_pool_several_worker_runs_and_measure_accuracy_once(setup):
    transport, worker, model, evalset = setup
    rows = ssh.benchmark_ssh(model, "pi@board", threads=[1], runs=7, warmup=1, eval_set=evalset, processes=3,
                             transport=transport, worker=worker)
    calls = (transport.root / "tmp/tflite_edge/m.tflite.calls").read_text().splitlines()
    assert calls == ["runs=3 eval=True samples=True", "runs=2 eval=False samples=True", "runs=2 eval=False samples=True"]
    row = rows[0]
    assert row["runs"] == 7 and row["processes"] == 3 and row["latency_ms_p50_by_process"] == [1.5, 1.5, 1.5]
    assert row["accuracy"] == 0.9 and "samples_ms" not in row and row["target"] == "ssh:local"


def test_failing_worker_is_an_error_row_and_other_threads_run(setup):
    transport, worker, model, _ = setup
    rows = ssh.benchmark_ssh(model, "pi@board", threads=[3, 1], transport=transport, worker=worker)
    assert "ai-edge-litert is not installed" in rows[0]["error"] and rows[1]["latency_ms_p50"] == 1.5


def test_missing_model_is_user_input_error(setup):
    transport, worker, _, _ = setup
    with pytest.raises(UserInputError):
        ssh.benchmark_ssh(Path("/nonexistent.tflite"), "pi@board", transport=transport, worker=worker)


def test_openssh_command_line_is_batch_mode():
    argv = ssh.worker_argv("/tmp/tflite_edge/m.tflite", threads=2, runs=5, warmup=1, eval_set=None)
    assert argv == ["python3", "-m", "tflite_edge.bench.host_worker", "--model", "/tmp/tflite_edge/m.tflite",
                    "--threads", "2", "--runs", "5", "--warmup", "1"]
    timed = ssh.worker_argv("m.tflite", threads=1, runs=5, warmup=1, eval_set=None, warmup_min_s=0.5)
    assert timed[-2:] == ["--warmup-min-secs", "0.5"]
    assert ssh.parse_worker_output('log\n' + json.dumps({"a": 1})) == {"a": 1}
