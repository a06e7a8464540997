"""The Edge TPU report a person reads: one line per cause, every blocker in the verdict, the fix
in this toolkit's terms, and operator versions against the compiler's TensorFlow (2.5)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tflite_edge import edgetpu
from tflite_edge.edgetpu.op_versions import max_readable, version_problem


def _artifact(report, fmt):
    return next(a for a in report["artifacts"] if a["format"] == fmt)


def test_float_artifact_report_fits_a_screen_and_names_both_blockers(tiny_run):
    _, run_dir, report = tiny_run
    path = run_dir / _artifact(report, "float32")["path"]
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "edgetpu", "check", str(path)],
                          capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1 and len(lines) <= 25, proc.stdout
    verdict = lines[-1]
    assert verdict.startswith("not_compilable:") and "float" in verdict and "dynamic" in verdict, verdict
    causes = [line for line in lines if line.startswith("  x ")]
    assert [c.split(":")[0] for c in causes] == ["  x dynamic_shape", "  x unsupported_dtype"], causes
    assert "--format edgetpu" in proc.stdout and "convert.formats" in proc.stdout  # the fix here


def test_edgetpu_ready_artifact_passes_and_is_not_named_as_compiled(tiny_run):
    _, run_dir, report = tiny_run
    art = _artifact(report, "edgetpu")
    assert art["name"] == "tiny_edgetpu_ready" and art["path"].endswith("tiny_edgetpu_ready.tflite")
    result = edgetpu.check(run_dir / art["path"])
    assert result.verdict == "all_on_tpu" and result.blockers == [] and "op_version" not in repr(result)
    assert len(repr(result).splitlines()) <= 5


def test_version_rule_from_the_runtime_table():
    assert max_readable("CONV_2D") == 5 and max_readable("TRANSPOSE_CONV") == 3 and max_readable("QUANTIZE") == 2
    assert version_problem("CONV_2D", 5, 3) is None
    assert "grouped convolution" in version_problem("CONV_2D", 6, 3)
    assert "TFLite 2.13.0" in version_problem("TRANSPOSE_CONV", 4, 67)
    assert "builtin_code out of range" in version_problem("REDUCE_ALL", 1, 140)


def test_grouped_convolution_from_the_converter_is_not_compilable(tmp_path):
    from tflite_edge import compat
    from tflite_edge.export import convert_formats

    k = compat.keras()
    i = k.Input((8, 8, 4))
    x = k.layers.Conv2D(4, 3, groups=2, padding="same", name="grouped")(i)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(i, k.layers.Dense(2, activation="softmax")(x))
    calibration = np.random.default_rng(0).random((4, 8, 8, 4), dtype=np.float32)
    path = tmp_path / "grouped.tflite"
    path.write_bytes(dict(convert_formats(model, ["edgetpu"], calibration))["edgetpu"])
    report = edgetpu.check_model(path)
    assert report["verdict"] == "not_compilable"
    assert "CONV_2D version 6" in report["summary"] and "grouped convolution" in report["summary"]


def test_patched_quantize_version_is_named(tiny_run, tmp_path):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    _, run_dir, report = tiny_run
    data = (run_dir / _artifact(report, "int8")["path"]).read_bytes()
    model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    code = next(c for c in model.operatorCodes if max(c.builtinCode, c.deprecatedBuiltinCode) == s.BuiltinOperator.QUANTIZE)
    code.version = 3
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    path = tmp_path / "quantize_v3.tflite"
    path.write_bytes(bytes(builder.Output()))
    report = edgetpu.check_model(path)
    cause = next(c for c in report["causes"] if c["rule"] == "op_version")
    assert cause["op_types"] == ["QUANTIZE"] and "QUANTIZE version 3" in cause["reason"]
    assert report["verdict"] == "not_compilable" and "per-channel" in report["summary"]


def test_one_corrupt_model_message_everywhere(tiny_run, tmp_path):
    _, run_dir, report = tiny_run
    data = (run_dir / _artifact(report, "int8")["path"]).read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    (tmp_path / "x.png").write_bytes(b"")
    said = set()
    for args in (["edgetpu", "check", cut], ["bench", cut, "--runs", "1"], ["predict", cut, tmp_path / "x.png"]):
        proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", *map(str, args)], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        said.add(proc.stderr.strip())
    assert len(said) == 1 and said.pop().startswith(f"error: {cut}: truncated or corrupt TFLite model")


def test_compiled_model_is_named_as_coral_names_it(tiny_run, tmp_path, monkeypatch):
    """A stand-in compiler (the real one is x86-64 only and not installable here) writes
    OUT/STEM_edgetpu.tflite as the real one does; the run keeps it as NAME_edgetpu.tflite."""
    from pathlib import Path

    from tflite_edge.export import edgetpu_extras

    _, run_dir, report = tiny_run
    ready = _artifact(report, "edgetpu")
    (tmp_path / "artifacts").mkdir()
    (tmp_path / ready["path"]).write_bytes((run_dir / ready["path"]).read_bytes())
    golden = Path(__file__).parent / "golden" / "edgetpu_compiler" / "v16_delegate_search_all_mapped.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "edgetpu_compiler"
    fake.write_text('#!/bin/sh\nfor a; do model="$a"; done\nout="$3/$(basename "$model" .tflite)_edgetpu.tflite"\n'
                    'cp "$model" "$out"\n'
                    f'sed "s#^Output model: .*#Output model: $out#" {golden}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    class Ctx:
        run_dir = tmp_path

        @staticmethod
        def path(rel):
            return (tmp_path / rel).resolve()

        @staticmethod
        def log(*args):
            pass

    art = dict(ready)
    extra = edgetpu_extras(Ctx, art)
    assert [e["name"] for e in extra] == ["tiny_edgetpu"] and extra[0]["path"] == "artifacts/tiny_edgetpu.tflite"
    assert sorted(p.name for p in (tmp_path / "artifacts").glob("*.tflite")) == ["tiny_edgetpu.tflite",
                                                                                  "tiny_edgetpu_ready.tflite"]
