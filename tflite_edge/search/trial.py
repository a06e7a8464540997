"""One search trial: train a candidate briefly through the one fit, convert it to int8 through
`export`, time it on `search.target`, score it on the validation split; and the keras-tuner
Tuner and Oracle that run trials.

Importing it starts TensorFlow (keras-tuner imports it).
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Optional

import numpy as np

from .. import atomic, compat
from ..bench import BenchOptions
from ..errors import EdgeError, UserInputError
from ..recipe import ModelSpec
from .scoring import OBJECTIVE, SEARCH_DIR, describe, mnasnet_reward
from .space import MobileNetV2Space

compat.keras()  # TF_USE_LEGACY_KERAS must be set before keras_tuner imports tensorflow
import keras_tuner as kt  # noqa: E402
from keras_tuner import errors as kt_errors  # noqa: E402
from keras_tuner.engine.base_tuner import BaseTuner  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402


def _trial_context(ctx, spec: ModelSpec):
    """A RunContext whose recipe trains `spec` at its input size, sharing the loaded dataset.

    Trials never distil: a teacher would dominate the trial's time and blur the comparison.
    """
    from ..run import RunContext
    from ..tasks.classification.build import input_spec_for

    # No TensorBoard either; early exits (adaptive) are not part of the architecture compared.
    train = ctx.recipe.train.model_copy(update={"tensorboard": False})
    recipe = ctx.recipe.model_copy(update={"model": spec, "teacher": None, "adaptive": None, "train": train})
    tctx = RunContext(recipe, ctx.run_dir, {"stages": {}}, ctx.log)
    tctx.dataset = ctx.dataset  # cached_property: assigning fills the cache, loaded once per process
    tctx.input_spec = input_spec_for(recipe, ctx.dataset)
    return tctx


def _latency_ms(records: list) -> float:
    first = records[0]
    value = first.get("latency_ms_p50", first.get("latency_ms_mean"))
    if value is None:
        raise EdgeError(f"target reported no latency ({first.get('error', 'no p50 or mean')})")
    return float(value)


def _validation_split(ctx):
    from ..data.pipeline import held_out

    r = ctx.recipe
    val = held_out(ctx.dataset, r)
    if val is None:
        raise UserInputError("search: the training split is too small to hold out validation images; "
                             "use more training samples")
    n = r.search.eval_samples
    return val[0][:n], val[1][:n]


def measure_trial(ctx, spec: ModelSpec, trial_id: str) -> dict:
    """Train `spec` briefly, convert to int8, time it on the target; the trial's measurements."""
    from ..bench import run_target
    from ..data.pipeline import numpy_batches
    from ..export import convert_keras, write_artifact
    from ..fit import fit_model
    from ..models import build_classifier
    from ..tasks.classification.evaluate import tflite_predict

    s, keras = ctx.recipe.search, compat.keras()
    seconds, t0 = {}, time.monotonic()

    def lap(phase):
        nonlocal t0
        seconds[phase], t0 = round(time.monotonic() - t0, 3), time.monotonic()

    keras.backend.clear_session()  # trials in one process would otherwise pile up graphs
    keras.utils.set_random_seed(ctx.recipe.seed)  # same start for every trial: architecture decides
    tctx = _trial_context(ctx, spec)
    d, input_spec = tctx.dataset, tctx.input_spec
    model = build_classifier(spec, input_spec, d.num_classes)
    lap("build")
    # No validation pass in the fit: it would trace and run a second graph per trial, and the trial
    # is scored on the same held-out images as int8 below anyway.
    history = fit_model(tctx, model, s.epochs_per_trial, tctx.recipe.train.learning_rate,
                        f"search_trial_{trial_id}", validate=False)
    lap("train")
    calibration = np.concatenate(list(numpy_batches(d.train_x[:s.calibration_samples], d, input_spec)))
    rel = f"{SEARCH_DIR}/trials/trial_{trial_id}_int8.tflite"
    info = write_artifact(convert_keras(model, "int8", calibration), ctx.path(rel), "int8")
    lap("convert")
    options = BenchOptions.for_search(ctx.recipe, s.runs, s.warmup, s.warmup_min_s, s.processes)
    latency = _latency_ms(run_target(s.target, ctx.path(rel), options))
    lap("benchmark")
    val_x, val_y = _validation_split(ctx)
    pred = tflite_predict(ctx.path(rel), numpy_batches(val_x, d, input_spec))
    accuracy = float(np.mean(pred == np.asarray(val_y)))
    lap("evaluate")
    return {"accuracy": accuracy, "latency_ms": latency, "size_bytes": info["size_bytes"],
            "reward": mnasnet_reward(accuracy, latency, s.latency_target_ms, s.latency_weight,
                                     s.latency_weight_under_target),
            "train_accuracy": float(history["accuracy"][-1]),
            "params": int(model.count_params()), "input_size": input_spec.height, "artifact": rel,
            "seconds_by_phase": seconds}


class EdgeSearchTuner(BaseTuner):
    """Runs trials for keras-tuner: measured int8 latency in, MnasNet reward out."""

    def __init__(self, ctx, oracle, directory: Path, project_name: str):
        self.ctx = ctx
        space = MobileNetV2Space(ctx.recipe, ctx.dataset)
        super().__init__(oracle, hypermodel=space, directory=str(directory), project_name=project_name,
                         overwrite=True)

    def _populate_initial_space(self):
        # keras-tuner builds the model once to discover conditional knobs; ours has none, so
        # declaring is enough and saves a full model build per process.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def run_trial(self, trial, *args, **kwargs):
        spec = self.hypermodel.spec(trial.hyperparameters)
        record = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id,
                  "hyperparameters": dict(trial.hyperparameters.values),
                  "model": spec.model_dump(mode="json")}
        t0 = time.monotonic()
        try:
            record.update(measure_trial(self.ctx, spec, trial.trial_id), status="completed")
        except Exception as e:  # any failure ends this trial only; the search goes on
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            record.update(status="failed", error=f"{type(e).__name__}: {first[:300]}",
                          traceback=traceback.format_exc()[-4000:])
        record["seconds"] = round(time.monotonic() - t0, 3)
        atomic.write_json(self.ctx.path(f"{SEARCH_DIR}/trials/trial_{trial.trial_id}.json"), record)
        desc = describe(spec, record.get("input_size") or spec.input_size)
        if record["status"] == "failed":
            self.ctx.log(f"  trial {trial.trial_id} ({self.tuner_id}): {desc}: FAILED {record['error']}")
            raise kt_errors.FailedTrialError(record["error"])  # FAILED, not INVALID: no retry
        self.ctx.log(f"  trial {trial.trial_id} ({self.tuner_id}): {desc}: accuracy {record['accuracy']:.4f}, "
                     f"{record['latency_ms']:.3f} ms, {record['size_bytes']:,} B, reward {record['reward']:.4f}")
        return {k: float(record[k]) for k in (OBJECTIVE, "accuracy", "latency_ms", "size_bytes")}

    def save_model(self, trial_id, model, step=0):
        pass  # the trial's int8 model is already in search/trials/

    def load_model(self, trial):
        raise NotImplementedError("rebuild the best trial with the `build` stage")


class BudgetedRandomSearchOracle(kt.oracles.RandomSearchOracle):
    """keras-tuner's random search that starts no trial once `time_budget_s` has passed."""

    def __init__(self, time_budget_s: Optional[float], **kwargs):
        super().__init__(**kwargs)
        self.time_budget_s, self._started = time_budget_s, None

    def populate_space(self, trial_id):
        self._started = self._started or time.monotonic()
        if self.time_budget_s is not None and time.monotonic() - self._started > self.time_budget_s:
            return {"status": TrialStatus.STOPPED, "values": None}
        return super().populate_space(trial_id)


def make_oracle(ctx):
    s = ctx.recipe.search
    # keras-tuner treats seed 0 as "no seed" (random); +1 keeps a recipe's seed reproducible.
    return BudgetedRandomSearchOracle(
        s.time_budget_s, objective=kt.Objective(OBJECTIVE, direction="max"), max_trials=s.trials,
        seed=ctx.recipe.seed + 1,
        # Stop neither on failures nor on retries: a failed trial is recorded and the search goes on.
        max_consecutive_failed_trials=s.trials + 1)


def check_target(ctx, tag: str) -> None:
    """Time a tiny int8 model on `search.target`, so an unreachable target fails before trial one."""
    from ..bench import run_target
    from ..export import convert_keras

    s, keras = ctx.recipe.search, compat.keras()
    inputs = keras.Input((8, 8, 1))
    probe = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    calibration = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    path = ctx.path(f"{SEARCH_DIR}/probe_{tag}_int8.tflite")
    atomic.write_bytes(path, convert_keras(probe, "int8", calibration))
    try:
        _latency_ms(run_target(s.target, path, BenchOptions.for_search(ctx.recipe, runs=1, warmup=0)))
    except EdgeError as e:
        raise UserInputError(f"search.target: '{s.target}' cannot be measured ({str(e)[:300]}); connect it "
                             "or choose a reachable target (host always is)") from None
    finally:
        path.unlink(missing_ok=True)
