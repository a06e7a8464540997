"""`search:`: recipe checks, the searchable backbone, MnasNet reward and Pareto front, a search
whose best trial feeds `build`, and keras-tuner's chief + two workers over loopback gRPC."""
import copy
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict

SEARCH = {
    "name": "search",
    "seed": 0,
    "data": {"dataset": "shapes", "image_size": 16, "train_samples": 64, "test_samples": 16,
             "batch_size": 16, "validation_fraction": 0.25},
    "model": {"name": "mobilenet_v2", "width": 0.25, "depth_multiplier": 0.34},
    "train": {"epochs": 1, "steps_per_epoch": 1, "tensorboard": False},
    "search": {"space": {"widths": [0.25, 0.35], "kernel_sizes": [3, 5]}, "trials": 2,
               "latency_target_ms": 0.05, "runs": 3, "warmup": 1, "warmup_min_s": 0.0, "processes": 1, "calibration_samples": 4,
               "eval_samples": 16},
    "convert": {"formats": ["int8"], "calibration_samples": 4},
    "benchmark": {"runs": 3, "warmup": 1, "warmup_min_s": 0.0, "processes": 1, "processes": 1},
}


def _recipe(**search):
    raw = copy.deepcopy(SEARCH)
    raw["search"].update(search)
    return raw


@pytest.mark.parametrize("change, message", [
    ({"space": {}}, "search.space: empty space"),
    ({"space": {"widths": []}}, "search.space.widths: List should have at least 1 item"),
    ({"space": {"widths": [0.5, 0.5]}}, "one candidate only, nothing to search"),
    ({"latency_target_ms": 0}, "search.latency_target_ms: the latency target T must be > 0 ms"),
    ({"latency_target_ms": -2.0}, "search.latency_target_ms: the latency target T must be > 0 ms"),
    ({"latency_weight": 0.5}, "search.latency_weight: Input should be less than or equal to 0"),
    ({"target": "hots"}, "did you mean 'host'"),
    ({"target": "coral"}, "use host, android or ssh"),
    ({"space": {"kernels": [3, 5]}}, "search.space.kernels: unknown key (did you mean 'kernel_sizes'?)"),
])
def test_bad_search_section_is_refused_before_any_trial(change, message):
    with pytest.raises(UserInputError, match="^recipe: .*" + re.escape(message)) as e:
        validate_dict(_recipe(**change))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("change, message", [
    ({"model": {"name": "plain_cnn"}}, "search: varies the mobilenet_v2 backbone; set model.name"),
    ({"model": {"name": "plain_cnn", "kernel_sizes": [3] * 7}}, "'kernel_sizes' applies to mobilenet_v2 only"),
    ({"data": {"dataset": "shapes", "validation_fraction": 0.0}}, "set data.validation_fraction > 0"),
])
def test_search_needs_a_mobilenet_v2_and_a_validation_split(change, message):
    raw = copy.deepcopy(SEARCH)
    raw.update(change)
    with pytest.raises(UserInputError, match=message):
        validate_dict(raw)


def test_stage_list_gains_search_only_with_a_search_section():
    from tflite_edge.recipe import STAGES, stages_for

    raw = copy.deepcopy(SEARCH)
    recipe = validate_dict(raw)
    assert stages_for(recipe) == ("search",) + STAGES
    # Workers load the recipe.yaml the chief wrote: a dumped recipe must validate unchanged.
    assert validate_dict(recipe.model_dump(mode="json")) == recipe
    del raw["search"]
    assert stages_for(validate_dict(raw)) == STAGES


def test_default_knobs_rebuild_mobilenet_v2_exactly():
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    spec = InputSpec(32, 32, 3)
    paper = build_classifier(ModelSpec(name="mobilenet_v2", width=0.35), spec, 10)
    explicit = build_classifier(ModelSpec(name="mobilenet_v2", width=0.35, depth_multiplier=1.0,
                                          kernel_sizes=[3] * 7, expansions=[1, 6, 6, 6, 6, 6, 6]), spec, 10)
    shallow = build_classifier(ModelSpec(name="mobilenet_v2", width=0.35, depth_multiplier=0.5,
                                         kernel_sizes=[5] * 7), spec, 10)
    assert [l.name for l in paper.layers] == [l.name for l in explicit.layers]
    assert paper.count_params() == explicit.count_params()
    # 17 blocks in the paper; half depth rounds each stage up: 1+1+2+2+2+2+1 = 11.
    assert sum(l.name.endswith("_project_conv") for l in paper.layers) == 17
    assert sum(l.name.endswith("_project_conv") for l in shallow.layers) == 11
    assert shallow.get_layer("block0_dw").kernel_size == (5, 5)


def test_reward_and_pareto_front():
    from tflite_edge.search.scoring import mnasnet_reward, pareto_front

    assert mnasnet_reward(0.8, 1.0, 1.0, -0.07) == pytest.approx(0.8)  # at the target: accuracy alone
    assert mnasnet_reward(0.8, 2.0, 1.0, -0.07) == pytest.approx(0.8 * 2 ** -0.07)  # slower: less
    assert mnasnet_reward(0.8, 0.5, 1.0, -0.07) > 0.8  # faster than the target: a little more
    assert mnasnet_reward(0.8, 5.0, 1.0, 0.0) == pytest.approx(0.8)  # w = 0: latency ignored
    # MnasNet's hard constraint (alpha 0 under T, beta -1 over): under T only accuracy counts.
    assert mnasnet_reward(0.8, 0.5, 1.0, -1.0, weight_under=0.0) == pytest.approx(0.8)
    assert mnasnet_reward(0.8, 2.0, 1.0, -1.0, weight_under=0.0) == pytest.approx(0.4)
    assert mnasnet_reward(0.8, 0.9, 1.0, -1.0, weight_under=0.0) > mnasnet_reward(0.79, 0.5, 1.0, -1.0, 0.0)
    rows = [{"trial_id": "0", "status": "completed", "accuracy": 0.90, "latency_ms": 2.0, "size_bytes": 100},
            {"trial_id": "1", "status": "completed", "accuracy": 0.85, "latency_ms": 1.0, "size_bytes": 100},
            {"trial_id": "2", "status": "completed", "accuracy": 0.85, "latency_ms": 2.0, "size_bytes": 100},
            {"trial_id": "3", "status": "completed", "accuracy": 0.80, "latency_ms": 3.0, "size_bytes": 50},
            {"trial_id": "4", "status": "failed", "error": "boom"}]
    # 2 is beaten by 0 (more accurate) and by 1 (faster); 3 stays for its size.
    assert pareto_front(rows) == ["0", "1", "3"]


def test_hyperparameters_map_to_a_model_spec():
    from tflite_edge.recipe import ModelSpec
    from tflite_edge.search.space import MobileNetV2Space, spec_from_values

    import keras_tuner as kt

    recipe = validate_dict(_recipe(space={"widths": [0.25, 0.5], "expansions": [3, 6], "input_sizes": [16]}))
    hp = kt.HyperParameters()
    MobileNetV2Space(recipe).declare_hyperparameters(hp)
    names = set(hp.values)
    assert {"width", "input_size", "expansion_s1", "expansion_s6"} <= names and "expansion_s0" not in names
    spec = spec_from_values(recipe.model, {"width": 0.5, "input_size": 16, "expansion_s3": 3})
    assert isinstance(spec, ModelSpec) and spec.width == 0.5 and spec.input_size == 16
    assert spec.expansions == [1, 6, 6, 3, 6, 6, 6] and spec.depth_multiplier == 0.34


def test_unreachable_target_fails_before_the_first_trial(tmp_path):
    from tflite_edge.run import run_recipe

    # Nothing listens for SSH on this port of loopback: the connection is refused at once.
    recipe = validate_dict(_recipe(target="ssh:nobody@127.0.0.1", trials=2))
    with pytest.raises(UserInputError, match=r"^search\.target: 'ssh:nobody@127\.0\.0\.1' cannot be measured"):
        run_recipe(recipe, tmp_path / "run", log=lambda *a: None)
    assert not list((tmp_path / "run").rglob("trial_*.json"))


def test_failed_trial_is_recorded_and_the_best_feeds_build(tmp_path, monkeypatch):
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec
    from tflite_edge.run import RunContext, plan, stage_function
    from tflite_edge.search import stage as search, trial

    real = trial.measure_trial

    def first_fails(ctx, spec, trial_id):
        if trial_id == "0":
            raise RuntimeError("simulated converter crash")
        return real(ctx, spec, trial_id)

    monkeypatch.setattr(trial, "measure_trial", first_fails)
    recipe = validate_dict(SEARCH)
    run_dir = tmp_path / "run"
    manifest, todo = plan(recipe, run_dir, None)
    assert todo[:2] == ["search", "build"]
    ctx = RunContext(recipe, run_dir, manifest, log=lambda *a: None)
    out = search.search(ctx)
    manifest["stages"]["search"] = {"done": True, "seconds": 0.0, "outputs": out}

    failed = json.loads((run_dir / "search/trials/trial_0.json").read_text())
    assert failed["status"] == "failed" and "simulated converter crash" in failed["error"]
    assert out["trials_failed"] == 1 and out["trials_completed"] == 1 and out["best_trial"] == "1"
    best = json.loads((run_dir / "search/trials/trial_1.json").read_text())
    assert best["status"] == "completed" and 0 < best["latency_ms"] and best["size_bytes"] > 0
    assert out["best"]["reward"] == pytest.approx(best["accuracy"] * (best["latency_ms"] / 0.05) ** -0.07)
    pareto = json.loads((run_dir / "search/pareto.json").read_text())
    assert pareto["front"] == ["1"] and {t["trial_id"] for t in pareto["trials"]} == {"0", "1"}
    assert (run_dir / "search/pareto.png").read_bytes()[:4] == b"\x89PNG"

    built = stage_function("build", recipe)(ctx)  # `build` reads the search stage's output in place of recipe.model
    spec = ModelSpec.model_validate(out["model"])
    assert spec.model_dump(mode="json") == best["model"] and spec.width in (0.25, 0.35)
    assert built["params"] == build_classifier(spec, InputSpec(16, 16, 3), 4).count_params()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_two_workers_search_in_parallel_then_the_run_goes_on(tmp_path, monkeypatch):
    from tflite_edge.run import run_recipe

    port = str(_free_port())
    run_dir = tmp_path / "run"
    raw = _recipe(trials=2)
    raw["train"]["epochs"] = 0  # the handover is under test here, not training
    recipe = validate_dict(raw)
    env = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port,
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    workers = []
    for tuner_id in ("tuner0", "tuner1"):
        log = open(tmp_path / f"{tuner_id}.log", "w")
        workers.append((subprocess.Popen([sys.executable, "-m", "tflite_edge.search", "worker", str(run_dir)],
                                         env=dict(env, KERASTUNER_TUNER_ID=tuner_id), stdout=log,
                                         stderr=subprocess.STDOUT), log))
    for key in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    result, logs = {}, []

    def chief():
        try:
            result["report"] = run_recipe(recipe, run_dir, log=logs.append)
        except BaseException as e:  # reported by the main thread
            result["error"] = e

    thread = threading.Thread(target=chief, daemon=True)  # a hung chief must not hang pytest
    thread.start()
    thread.join(timeout=300)
    codes = []
    for proc, log in workers:
        try:
            codes.append(proc.wait(timeout=5 if thread.is_alive() else 60))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append("killed")
        log.close()
    tails = {p.name: p.read_text()[-1500:] for p in tmp_path.glob("tuner*.log")}
    assert not thread.is_alive(), f"chief still serving; workers {codes}: {tails}"
    assert "error" not in result, f"{result.get('error')!r}; workers: {tails}"
    assert codes == [0, 0], tails

    records = [json.loads(p.read_text()) for p in sorted((run_dir / "search/trials").glob("trial_*.json"))]
    assert len(records) == 2 and all(r["status"] == "completed" for r in records)
    # Both workers took trials: they ran side by side against the one oracle.
    assert {r["tuner_id"] for r in records} == {"tuner0", "tuner1"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["search"]["outputs"]["tuner_ids"] == ["tuner0", "tuner1"]
    assert list(manifest["stages"])[:2] == ["search", "build"]
    # The best trial went on through the rest of the recipe in the same run.
    report = result["report"]
    assert [s["name"] for s in report["stages"]][0] == "search"
    assert report["artifacts"][0]["format"] == "int8"
