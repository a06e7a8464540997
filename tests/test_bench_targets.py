"""Several targets for one model: remote ones side by side, local ones alone, failures kept."""
import importlib
import threading

import pytest

from tflite_edge.errors import DeviceUnavailable

# the package (targets, options); `tflite_edge.bench` as an attribute is the Python API's function
bench = importlib.import_module("tflite_edge.bench")


@pytest.fixture
def fake_targets(monkeypatch):
    """android and ssh meet at a barrier (it only opens if both run at once); host checks they are done."""
    barrier, finished = threading.Barrier(2, timeout=10), []

    def remote(name):
        def run(model_path, arg, options):
            barrier.wait()  # BrokenBarrierError (a test failure) if run one after the other
            finished.append(name)
            return [{"target": f"{name}:{arg}", "threads": 1, "latency_ms_p50": 1.0}]
        return run

    def host(model_path, arg, options):
        assert sorted(finished) == ["android", "ssh"]  # local timing waits for the remote jobs
        return [{"target": "host", "threads": 1, "latency_ms_p50": 2.0}]

    def coral(model_path, arg, options):
        raise DeviceUnavailable("no Edge TPU found (lsusb shows no 1a6e:089a or 18d1:9302)")

    for name, fn in (("android", remote("android")), ("ssh", remote("ssh")), ("host", host), ("coral", coral)):
        monkeypatch.setitem(bench.TARGETS._entries, name, fn)
    return finished


def test_remote_targets_run_in_parallel_and_failures_do_not_stop_the_others(fake_targets, tmp_path):
    targets = ["host", "android:PHONE", "coral", "ssh:pi@board"]
    out = bench.run_targets(targets, tmp_path / "m.tflite", bench.BenchOptions())
    assert list(out) == targets  # the order asked for
    assert out["android:PHONE"][0]["target"] == "android:PHONE" and out["host"][0]["latency_ms_p50"] == 2.0
    assert isinstance(out["coral"], DeviceUnavailable)


def test_cli_bench_reports_every_target_and_exits_non_zero_on_a_failure(fake_targets, tmp_path, capsys):
    from tflite_edge.cli import main

    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    empty = schema.ModelT()  # a sound flatbuffer (bench checks the file first); the targets are fakes
    empty.version, empty.subgraphs, empty.buffers = 3, [schema.SubGraphT()], [schema.BufferT()]
    builder = flatbuffers.Builder(0)
    builder.Finish(empty.Pack(builder), b"TFL3")
    model = tmp_path / "m.tflite"
    model.write_bytes(bytes(builder.Output()))
    rc = main(["bench", str(model), "--target", "android:A", "--target", "ssh:pi@b", "--target", "coral",
               "--target", "host"])
    out, err = capsys.readouterr()
    assert rc != 0 and "no Edge TPU found" in err and len(err.strip().splitlines()) == 1
    assert "[android:A, 1 thread(s)" in out and "[host, 1 thread(s)" in out and "[ssh:pi@b" in out
