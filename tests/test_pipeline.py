"""End to end on a tiny recipe: run directory, report fields, resume, gates."""
import json

import pytest

from tflite_edge.errors import GateFailed, UserInputError
from tflite_edge.recipe import validate_dict
from tflite_edge.run import run_recipe


def test_report_has_the_promised_fields(tiny_run):
    recipe, run_dir, report = tiny_run
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk == report
    assert report["task"] == "classification"
    assert 0.0 <= report["keras"]["accuracy"] <= 1.0 and report["keras"]["params"] > 0
    assert [s["name"] for s in report["stages"]] == ["build", "train", "optimize", "convert", "evaluate",
                                                    "benchmark"]
    assert {a["format"] for a in report["artifacts"]} == set(recipe.convert.formats)
    for a in report["artifacts"]:
        assert (run_dir / a["path"]).stat().st_size == a["size_bytes"]
        assert 0 < a["gzip_bytes"] <= a["size_bytes"] * 1.01
        assert 0.0 <= a["accuracy"] <= 1.0 and 0.0 <= a["agreement_with_keras"] <= 1.0
        host = a["benchmark"]["host"]
        assert host["threads"] == 1 and 0 < host["latency_ms_p50"] <= host["latency_ms_p90"]
    f32 = next(a for a in report["artifacts"] if a["format"] == "float32")
    assert f32["agreement_with_keras"] >= 0.97  # float32 TFLite computes what Keras computes
    assert (run_dir / "report.md").read_text().startswith("# tflite-edge report: tiny")
    assert (run_dir / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(run_dir.rglob("*.partial*")), "a temporary file was left behind"


def test_every_artifact_carries_metadata_and_a_named_signature(tiny_run):
    import zipfile
    from io import BytesIO

    from tflite_edge.runtime import make_interpreter
    from tflite_edge.metadata import read_metadata

    recipe, run_dir, report = tiny_run
    labels = (run_dir / "labels.txt").read_text().split()
    spec = json.loads((run_dir / "input_spec.json").read_text())
    for a in report["artifacts"]:
        data = (run_dir / a["path"]).read_bytes()
        md = read_metadata(data)
        assert md["name"] == recipe.name and md["labels"] == labels
        assert md["inputs"][0]["mean"] == [spec["mean"]] * spec["channels"]
        packed = zipfile.ZipFile(BytesIO(data))  # the labels file travels inside the model
        assert packed.read("labels.txt").decode().split() == labels
        it, _ = make_interpreter(str(run_dir / a["path"]), 1)
        sig = it._get_full_signature_list()["serving_default"]
        assert list(sig["inputs"]) == ["image"] and list(sig["outputs"]) == ["probs"]


def test_edgetpu_artifact_is_checked_and_gated(tiny_run):
    _, _, report = tiny_run
    tpu = next(a for a in report["artifacts"] if a["format"] == "edgetpu")
    # A plain conv net with static batch 1 and uint8 I/O maps entirely to the Edge TPU.
    assert tpu["edgetpu_check"]["verdict"] == "all_on_tpu" and tpu["edgetpu_check"]["on_cpu"] == 0
    gate = next(g for g in report["gates"] if g["name"].startswith("edgetpu_max_cpu_ops"))
    assert gate["passed"] and gate["value"] == 0


def test_rerun_resumes_and_redo_from_convert(tiny_run):
    recipe, run_dir, report = tiny_run
    logs = []
    again = run_recipe(recipe, run_dir, log=logs.append)
    assert again == report and any("already finished" in l for l in logs)
    logs.clear()
    redone = run_recipe(recipe, run_dir, from_stage="convert", log=logs.append)
    assert "[train]" not in logs and "[convert]" in logs
    assert [a["size_bytes"] for a in redone["artifacts"]] == [a["size_bytes"] for a in report["artifacts"]]
    assert redone["keras"]["accuracy"] == report["keras"]["accuracy"]


def test_other_recipe_in_same_dir_is_refused(tiny_run, tiny_dict):
    _, run_dir, _ = tiny_run
    tiny_dict["seed"] = 1
    with pytest.raises(UserInputError, match="different recipe"):
        run_recipe(validate_dict(tiny_dict), run_dir, log=lambda *a: None)


def test_unknown_from_stage(tiny_run):
    recipe, run_dir, _ = tiny_run
    with pytest.raises(UserInputError, match="did you mean 'convert'"):
        run_recipe(recipe, run_dir, from_stage="convrt", log=lambda *a: None)


def test_failed_gate_exits_3_after_writing_the_report(tiny_run, tmp_path):
    recipe, run_dir, _ = tiny_run
    import shutil

    copy = tmp_path / "gated"
    shutil.copytree(run_dir, copy)
    strict = validate_dict({**recipe.model_dump(mode="json"),
                            "evaluate": {"min_keras_accuracy": 1.0, "max_accuracy_drop": 0.0}})
    with pytest.raises(GateFailed) as e:
        run_recipe(strict, copy, from_stage="evaluate", log=lambda *a: None)
    assert e.value.exit_code == 3 and "min_keras_accuracy" in str(e.value)
    rep = json.loads((copy / "report.json").read_text())
    assert rep["passed"] is False and any(not g["passed"] for g in rep["gates"])


def test_ssh_target_runs_the_real_worker_with_the_eval_set(tiny_run, tmp_path):
    """The board side is our own host_worker; through a local transport it measures latency and
    the accuracy on the run's evaluation set, which must match the host evaluation."""
    import sys

    from tflite_edge.bench import ssh
    from tflite_edge.run import RunContext
    from tflite_edge.benchmark import write_eval_set

    recipe, run_dir, report = tiny_run
    ctx = RunContext(recipe, run_dir, json.loads((run_dir / "manifest.json").read_text()), log=lambda *a: None)
    eval_set = write_eval_set(ctx, 1000)
    art = next(a for a in report["artifacts"] if a["format"] == "int8")
    rows = ssh.benchmark_ssh(run_dir / art["path"], "pi@board", threads=[1], runs=5, warmup=1,
                             eval_set=eval_set, transport=ssh.LocalTransport(tmp_path / "board"),
                             worker=(sys.executable, "-m", "tflite_edge.bench.host_worker"))
    assert rows[0]["latency_ms_p50"] > 0 and rows[0]["eval_samples"] == recipe.data.test_samples
    assert rows[0]["accuracy"] == pytest.approx(art["accuracy"], abs=1e-9)
