"""Reliability and safety: kill -9 and resume, determinism, path escapes, Lambda refusal, strategies.

Tolerance: none. With `train.deterministic` (the default) a CPU run is bit-identical for a seed on
the same machine and TensorFlow build, so a resumed run's metrics equal an uninterrupted run's.
"""
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY
from tflite_edge.errors import UserInputError

SEEDS = Path(__file__).parent / "corpus" / "seeds"

# Long enough in `train` (30 short epochs) that a kill lands inside it; small everywhere else.
KILLABLE = copy.deepcopy(TINY)
KILLABLE.update(name="killable", train={"epochs": 30, "steps_per_epoch": 3, "tensorboard": False},
                convert={"formats": ["float32", "int8"], "calibration_samples": 16},
                benchmark={"runs": 2, "warmup": 0, "warmup_min_s": 0.0, "processes": 1})


def _cli(*args):
    return [sys.executable, "-m", "tflite_edge.cli", *args]


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


def _metrics(run_dir: Path) -> dict:
    rep = json.loads((run_dir / "report.json").read_text())
    return {"keras": rep["keras"], "gates": rep["gates"],
            "artifacts": [(a["name"], a["size_bytes"], a["accuracy"], a["agreement_with_keras"])
                          for a in rep["artifacts"]]}


def _run(recipe: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_cli("run", str(recipe), "--out", str(out)), env=_env(), capture_output=True,
                          text=True, timeout=900)


def test_kill_9_during_training_then_resume_equals_uninterrupted(tmp_path):
    recipe = tmp_path / "killable.yaml"
    recipe.write_text(yaml.safe_dump(KILLABLE))
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(_cli("run", str(recipe), "--out", str(killed_dir)), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in proc.stdout:  # the stage markers are printed as each stage starts
        seen.append(line.strip())
        if line.strip() == "[train]":
            break
    time.sleep(3.0)  # into model.fit: 30 epochs take longer than this even on a fast machine
    assert proc.poll() is None, f"run ended before the kill: {seen}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest = json.loads((killed_dir / "manifest.json").read_text())
    assert list(manifest["stages"]) == ["build"], "the kill should land in `train`"

    resumed = _run(recipe, killed_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "[build]" not in resumed.stdout and "[train]" in resumed.stdout  # build kept, train redone
    assert not list(killed_dir.rglob(".*.partial*"))

    straight = _run(recipe, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert _metrics(killed_dir) == _metrics(tmp_path / "straight")
    for name in ("killable_float32.tflite", "killable_int8.tflite"):
        assert (killed_dir / "artifacts" / name).read_bytes() == \
            (tmp_path / "straight" / "artifacts" / name).read_bytes()


def test_stale_partials_from_a_killed_write_are_removed(tmp_path):
    from tflite_edge import atomic

    (tmp_path / "checkpoints").mkdir()
    stale = tmp_path / "checkpoints" / ".trained.abc123.partial.keras"
    stale.write_bytes(b"half a zip")
    keep = tmp_path / "checkpoints" / "trained.keras"
    keep.write_bytes(b"done")
    assert atomic.remove_partials(tmp_path) == 1
    assert not stale.exists() and keep.exists()


def test_atomic_write_gives_plain_file_mode(tmp_path):
    from tflite_edge import atomic

    p = atomic.write_text(tmp_path / "report.html", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------- output paths stay in the run dir
def _ctx(tmp_path):
    from tflite_edge.recipe import validate_dict
    from tflite_edge.run import RunContext

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return RunContext(validate_dict(copy.deepcopy(TINY)), run_dir, {"stages": {}}, log=lambda *a: None)


@pytest.mark.parametrize("rel", ["../outside.txt", "artifacts/../../outside.txt", "/etc/passwd", "/tmp/x",
                                 "a/../../../x"])
def test_output_paths_cannot_escape_the_run_dir(tmp_path, rel):
    with pytest.raises(UserInputError, match="escapes the run directory"):
        _ctx(tmp_path).path(rel)


def test_symlink_out_of_the_run_dir_is_refused(tmp_path):
    ctx = _ctx(tmp_path)
    (ctx.run_dir / "artifacts").symlink_to(tmp_path)
    with pytest.raises(UserInputError, match="escapes the run directory"):
        ctx.path("artifacts/model.tflite")
    assert ctx.path("artifacts2/model.tflite").parent.name == "artifacts2"


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".hidden", ""])
def test_recipe_name_cannot_name_a_path(tiny_dict, name):
    from tflite_edge.recipe import validate_dict

    tiny_dict["name"] = name
    with pytest.raises(UserInputError, match="name"):
        validate_dict(tiny_dict)


# ---------------------------------------------------------------- no code from model files or recipes
@pytest.mark.parametrize("seed", ["lambda.keras", "lambda.h5"])
def test_lambda_layers_are_refused_unless_trusted(seed):
    from tflite_edge.model_io import load_keras_model

    with pytest.raises(UserInputError, match="Lambda layer .*--trust-lambda"):
        load_keras_model(SEEDS / seed)
    model = load_keras_model(SEEDS / seed, trust_lambda=True)
    assert any(type(l).__name__ == "Lambda" for l in model.layers)


def test_cli_convert_refuses_lambda_with_exit_2(tmp_path, capsys):
    from tflite_edge.cli import main

    assert main(["convert", str(SEEDS / "lambda.keras"), "--format", "float32", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Lambda" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.tflite"))


def test_yaml_python_tags_never_run(tmp_path):
    from tflite_edge.recipe import load_recipe

    marker = tmp_path / "ran"
    for tag in ("!!python/object/apply:os.system", "!!python/object/new:os.system"):
        p = tmp_path / "evil.yaml"
        p.write_text(f"name: {tag} ['touch {marker}']\ndata: {{dataset: shapes}}\nmodel: {{name: plain_cnn}}\n")
        with pytest.raises(UserInputError, match="not valid YAML"):
            load_recipe(p)
    with pytest.raises(UserInputError):
        load_recipe(p, [f"name=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


def test_source_uses_safe_yaml_and_no_eval():
    import re

    import yaml

    from tflite_edge.recipe import RecipeLoader

    # the one yaml.load allowed: with the recipe loader, a SafeLoader (no python tags) that also
    # reads 1e-4 as a number
    assert issubclass(RecipeLoader, yaml.SafeLoader) and not issubclass(RecipeLoader, yaml.FullLoader)
    root = Path(__file__).parents[1] / "tflite_edge"
    for f in root.rglob("*.py"):
        text = f.read_text().replace("yaml.load(text, Loader=RecipeLoader)", "")
        assert not re.search(r"yaml\.(load|unsafe_load|full_load)\(", text), f"{f}: use yaml.safe_load"
        assert not re.search(r"(?<![\w.])(eval|exec)\(", text), f"{f}: no eval/exec"


# ---------------------------------------------------------------- train.strategy
STRATEGY_SCRIPT = r"""
import copy, json, sys
from conftest import TINY
from tflite_edge import compat

tf = compat.tf()
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tflite_edge.recipe import validate_dict
from tflite_edge.run import run_recipe

out = {}
for strategy in ("mirrored", "multi_worker"):
    d = copy.deepcopy(TINY)
    d["train"]["strategy"] = strategy
    d["convert"] = {"formats": ["float32"]}
    d["benchmark"] = {"runs": 2, "warmup": 0, "warmup_min_s": 0.0, "processes": 1}
    run_dir = sys.argv[1] + "/" + strategy
    rep = run_recipe(validate_dict(d), run_dir, log=lambda *a: None)
    train = json.load(open(run_dir + "/manifest.json"))["stages"]["train"]["outputs"]
    out[strategy] = {"replicas": train["replicas"], "epochs_run": train["epochs_run"],
                     "agreement": rep["artifacts"][0]["agreement_with_keras"]}
print(json.dumps(out))
"""


def test_train_strategy_on_two_logical_cpus(tmp_path):
    env = dict(_env(), PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    env.pop("TF_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", STRATEGY_SCRIPT, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # mirrored spreads over both logical CPUs; multi_worker without TF_CONFIG is one local worker.
    assert out["mirrored"]["replicas"] == 2 and out["multi_worker"]["replicas"] == 1
    for r in out.values():
        assert r["epochs_run"] == 1 and r["agreement"] >= 0.97  # the trained model converts as usual


def test_strategy_is_validated(tiny_dict):
    from tflite_edge.recipe import validate_dict

    tiny_dict["train"]["strategy"] = "tpu"
    with pytest.raises(UserInputError, match="train.strategy"):
        validate_dict(tiny_dict)
    tiny_dict["train"]["strategy"] = "mirrored"
    tiny_dict["teacher"] = {"sources": [{"model": {"name": "plain_cnn"}}]}
    with pytest.raises(UserInputError, match="train.strategy: not supported with a teacher"):
        validate_dict(tiny_dict)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_with_two_local_workers(tmp_path):
    """Two `tflite-edge run` processes joined by TF_CONFIG train one model in sync."""
    d = copy.deepcopy(TINY)
    d["train"].update(strategy="multi_worker", epochs=2)
    d["convert"], d["benchmark"] = {"formats": ["float32"]}, {"runs": 2, "warmup": 0, "warmup_min_s": 0.0, "processes": 1}
    recipe = tmp_path / "mw.yaml"
    recipe.write_text(yaml.safe_dump(d))
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    procs = [subprocess.Popen(_cli("run", str(recipe), "--out", str(tmp_path / f"w{i}")), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              env=dict(_env(), TF_CONFIG=json.dumps({"cluster": cluster,
                                                                     "task": {"type": "worker", "index": i}})))
             for i in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reports = [json.loads((tmp_path / f"w{i}" / "report.json").read_text()) for i in range(2)]
    trains = [json.loads((tmp_path / f"w{i}" / "manifest.json").read_text())["stages"]["train"]["outputs"]
              for i in range(2)]
    assert [t["replicas"] for t in trains] == [2, 2]
    assert trains[0]["history"] == trains[1]["history"]  # one model, trained together
    assert reports[0]["keras"] == reports[1]["keras"]
