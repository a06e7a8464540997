"""Stage `search`: latency-aware architecture search over the mobilenet_v2 backbone (MnasNet).

FLOPs do not predict latency, so every trial is measured: it trains for `epochs_per_trial`,
converts to int8 TFLite, is timed on `search.target` and scored with MnasNet's reward
ACC * (LAT / T)^w. The split follows keras-tuner (HyperModel / Oracle / Tuner):

- `MobileNetV2Space` (HyperModel): hyperparameters -> ModelSpec -> Keras model.
- keras-tuner's random-search Oracle proposes; its objective is the reward, maximised.
- `EdgeSearchTuner` (BaseTuner): runs one trial and writes search/trials/trial_ID.json, failed
  trials included (keras-tuner only sums objectives, so accuracy, latency and size are kept here
  and their Pareto front is computed by us: search/pareto.json and search/pareto.png).

The best trial's ModelSpec is this stage's output `model`; `build` uses it in place of `model:`.

Parallel trials use keras-tuner's own gRPC protocol and variables, on loopback only (the server
has no authentication). The run is the chief, each worker a process on the same machine:

    export KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8470
    KERASTUNER_TUNER_ID=chief tflite-edge run recipe.yaml --out runs/x
    KERASTUNER_TUNER_ID=tuner0 python -m tflite_edge.search worker runs/x
    KERASTUNER_TUNER_ID=tuner1 python -m tflite_edge.search worker runs/x

Importing this module starts TensorFlow (keras-tuner imports it); the stage loads it lazily.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Optional

import numpy as np

from . import atomic, compat
from .errors import EdgeError, UserInputError
from .recipe import ModelSpec

compat.keras()  # TF_USE_LEGACY_KERAS must be set before keras_tuner imports tensorflow
import keras_tuner as kt  # noqa: E402
from keras_tuner import errors as kt_errors, protos  # noqa: E402
from keras_tuner.distribute.oracle_chief import OracleServicer  # noqa: E402
from keras_tuner.engine.base_tuner import BaseTuner  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402

STAGE_COUNT = 7  # mobilenet_v2's stages; kernel_sizes and expansions have one entry each
OBJECTIVE = "reward"
SEARCH_DIR = "search"


# ---------------------------------------------------------------- scoring
def mnasnet_reward(accuracy: float, latency_ms: float, target_ms: float, weight: float,
                   weight_under: Optional[float] = None) -> float:
    """MnasNet's reward ACC * (LAT / T)^w, with w = `weight_under` (alpha) when LAT <= T and `weight`
    (beta) above T. alpha = beta = -0.07 is the paper's soft constraint (any speed-up still pays);
    alpha = 0, beta = -1 its hard one (below T only accuracy counts).

    >>> round(mnasnet_reward(0.9, 2.0, 1.0, -0.07), 4)
    0.8573
    >>> mnasnet_reward(0.9, 0.5, 1.0, -1.0, weight_under=0.0)
    0.9
    """
    w = weight if weight_under is None or latency_ms > target_ms else weight_under
    return float(accuracy * (latency_ms / target_ms) ** w)


def pareto_front(records: list) -> list:
    """Ids of completed trials no other trial beats on accuracy, latency and size at once.

    >>> pareto_front([{"trial_id": "0", "accuracy": 0.9, "latency_ms": 2.0, "size_bytes": 10},
    ...               {"trial_id": "1", "accuracy": 0.8, "latency_ms": 3.0, "size_bytes": 10}])
    ['0']
    """
    done = [r for r in records if r.get("status") == "completed"]

    def dominates(a, b):
        no_worse = (a["accuracy"] >= b["accuracy"] and a["latency_ms"] <= b["latency_ms"]
                    and a["size_bytes"] <= b["size_bytes"])
        better = (a["accuracy"] > b["accuracy"] or a["latency_ms"] < b["latency_ms"]
                  or a["size_bytes"] < b["size_bytes"])
        return no_worse and better

    return [r["trial_id"] for r in done if not any(dominates(o, r) for o in done if o is not r)]


def plot_pareto(records: list, front: list, target_ms: float, path: Path) -> Path:
    """Accuracy against latency, one dot per completed trial (area ~ size), the front in red."""
    import matplotlib

    matplotlib.use("Agg")  # no display on CI machines or boards
    import matplotlib.pyplot as plt

    done = [r for r in records if r.get("status") == "completed"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if done:
        biggest = max(r["size_bytes"] for r in done)
        ax.scatter([r["latency_ms"] for r in done], [r["accuracy"] for r in done],
                   s=[20 + 180 * r["size_bytes"] / biggest for r in done], color="0.6", label="trial")
        on_front = sorted((r for r in done if r["trial_id"] in front), key=lambda r: r["latency_ms"])
        # Markers only: a line would suggest a 2-D front, and size is the third objective.
        ax.plot([r["latency_ms"] for r in on_front], [r["accuracy"] for r in on_front], "o", color="C3",
                label="Pareto front (accuracy, latency, size)")
        for r in on_front:
            ax.annotate(r["trial_id"], (r["latency_ms"], r["accuracy"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    ax.axvline(target_ms, color="C0", linestyle="--", label=f"target {target_ms:g} ms")
    ax.set_xlabel("int8 latency p50 (ms)")
    ax.set_ylabel("int8 accuracy (validation)")
    ax.set_title("Search trials")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- what to build
def spec_from_values(base: ModelSpec, values: dict) -> ModelSpec:
    """`base` with the searched knobs in `values` (keras-tuner hyperparameter values) applied."""
    update = {k: values[k] for k in ("width", "depth_multiplier", "input_size") if k in values}
    if "width" in update:
        update["width"] = float(update["width"])
    if "depth_multiplier" in update:
        update["depth_multiplier"] = float(update["depth_multiplier"])
    if any(k.startswith("kernel_size_s") for k in values):
        kernels = base.kernel_sizes or [3] * STAGE_COUNT
        update["kernel_sizes"] = [int(values.get(f"kernel_size_s{i}", kernels[i])) for i in range(STAGE_COUNT)]
    if any(k.startswith("expansion_s") for k in values):
        expansions = base.expansions or [1] + [6] * (STAGE_COUNT - 1)
        update["expansions"] = [int(values.get(f"expansion_s{i}", expansions[i])) for i in range(STAGE_COUNT)]
    return ModelSpec.model_validate({**base.model_dump(), **update})


class MobileNetV2Space(kt.HyperModel):
    """The searchable backbone: recipe `search.space` over `model:` (a mobilenet_v2)."""

    def __init__(self, recipe, dataset=None):
        super().__init__(name="mobilenet_v2_space")
        self.recipe, self.dataset = recipe, dataset
        self.base, self.space = recipe.model, recipe.search.space

    def declare_hyperparameters(self, hp):
        s = self.space

        def knob(name, values, cast):
            values = list(dict.fromkeys(cast(v) for v in values))  # keras-tuner wants one type
            if len(values) == 1:
                hp.Fixed(name, values[0])
            else:
                hp.Choice(name, values, ordered=True)

        if s.widths:
            knob("width", s.widths, float)
        if s.input_sizes:
            knob("input_size", s.input_sizes, int)
        if s.depth_multipliers:
            knob("depth_multiplier", s.depth_multipliers, float)
        for i in range(STAGE_COUNT):
            if s.kernel_sizes:
                knob(f"kernel_size_s{i}", s.kernel_sizes, int)
            # The first stage works at the highest resolution; MobileNetV2 and MnasNet keep it
            # unexpanded, and expanding it costs latency for little accuracy.
            if s.expansions and i > 0:
                knob(f"expansion_s{i}", s.expansions, int)

    def spec(self, hp) -> ModelSpec:
        return spec_from_values(self.base, hp.values)

    def build(self, hp):
        from .tasks.classification.build import input_spec_for
        from .models import build_classifier

        spec = self.spec(hp)
        input_spec = input_spec_for(self.recipe.model_copy(update={"model": spec}), self.dataset)
        return build_classifier(spec, input_spec, self.dataset.num_classes)


# ---------------------------------------------------------------- one trial
def _trial_context(ctx, spec: ModelSpec):
    """A RunContext whose recipe trains `spec` at its input size, sharing the loaded dataset.

    Trials never distil: a teacher would dominate the trial's time and blur the comparison.
    """
    from .tasks.classification.build import input_spec_for
    from .run import RunContext

    recipe = ctx.recipe.model_copy(update={"model": spec, "teacher": None})
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


def _bench_options(ctx, runs: int, warmup: int, warmup_min_s: float = 0.0, processes: int = 1):
    from .bench import BenchOptions

    s = ctx.recipe.search
    return BenchOptions(threads=(s.threads,), runs=runs, warmup=warmup, warmup_min_s=warmup_min_s, processes=processes,
                        android_binary=ctx.recipe.benchmark.android_binary)


def _validation_split(ctx):
    from .data.pipeline import held_out

    r = ctx.recipe
    val = held_out(ctx.dataset, r)
    if val is None:
        raise UserInputError("search: the training split is too small to hold out validation images; "
                             "use more training samples")
    n = r.search.eval_samples
    return val[0][:n], val[1][:n]


def convert_int8(model, calibration: np.ndarray) -> bytes:
    """Full-integer TFLite (float I/O), the `int8` format of export.py, from a concrete function.

    convert_keras goes through a Keras SavedModel export that traces every layer: 20-30 s for a
    small MobileNetV2 on a loaded 2-core host, against 1.5 s here, for the same ops and the same
    quantization. Per trial that is most of the search budget.
    """
    import warnings

    tf = compat.tf()
    shape = [None, *model.input_shape[1:]]
    # autograph=False: a plain forward pass has no Python control flow to convert.
    fn = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(
        tf.TensorSpec(shape, tf.float32))

    def representative():
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    with compat.quiet_native_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the path's deprecation notice and calibration chatter
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return conv.convert()


def measure_trial(ctx, spec: ModelSpec, trial_id: str) -> dict:
    """Train `spec` briefly, convert to int8, time it on the target; the trial's measurements."""
    from .bench import run_target
    from .data.pipeline import numpy_batches
    from .export import write_artifact
    from .fit import make_optimizer
    from .models import build_classifier
    from .progress import epoch_progress
    from .tasks.classification.data import compile_classifier, fit_data
    from .tasks.classification.evaluate import tflite_predict

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
    # Not fit_model: Keras' own validation pass would trace and run a second graph per trial,
    # and the trial is scored on the same held-out images as int8 below anyway.
    data, t = fit_data(tctx, tctx.recipe), tctx.recipe.train
    compile_classifier(model, tctx.recipe, make_optimizer(t.optimizer, t.learning_rate, t.schedule,
                                                          s.epochs_per_trial * data.steps_per_epoch))
    history = model.fit(data.train, epochs=s.epochs_per_trial, verbose=0,
                        callbacks=[epoch_progress(s.epochs_per_trial, f"search_trial_{trial_id}")]).history
    lap("train")
    calibration = np.concatenate(list(numpy_batches(d.train_x[:s.calibration_samples], d, input_spec)))
    rel = f"{SEARCH_DIR}/trials/trial_{trial_id}_int8.tflite"
    info = write_artifact(convert_int8(model, calibration), ctx.path(rel), "int8")
    lap("convert")
    options = _bench_options(ctx, s.runs, s.warmup, s.warmup_min_s, s.processes)
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


def _describe(spec: ModelSpec, input_size: Optional[int]) -> str:
    parts = [f"width {spec.width:g}", f"{input_size} px", f"depth {spec.depth_multiplier:g}"]
    if spec.kernel_sizes:
        parts.append("k" + "".join(map(str, spec.kernel_sizes)))
    if spec.expansions:
        parts.append("e" + "".join(map(str, spec.expansions)))
    return ", ".join(parts)


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
        desc = _describe(spec, record.get("input_size") or spec.input_size)
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


# ---------------------------------------------------------------- checks before the first trial
def distributed_role() -> Optional[str]:
    """None (one process), "chief" or "worker", from keras-tuner's KERASTUNER_* variables."""
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if ip is None:
        return None
    port, tuner_id = os.environ.get("KERASTUNER_ORACLE_PORT"), os.environ.get("KERASTUNER_TUNER_ID")
    if not port or not tuner_id:
        raise UserInputError("KERASTUNER_ORACLE_IP is set but KERASTUNER_ORACLE_PORT or KERASTUNER_TUNER_ID "
                             "is not; set all three (e.g. 127.0.0.1, 8470, chief / tuner0) or none")
    try:
        loopback = ip == "localhost" or ipaddress.ip_address(ip).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UserInputError(f"KERASTUNER_ORACLE_IP={ip}: the oracle's gRPC server has no authentication, so "
                             "only loopback is allowed; use 127.0.0.1 and run the workers on this machine")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserInputError(f"KERASTUNER_ORACLE_PORT={port}: not a port number; use e.g. 8470")
    return "chief" if "chief" in tuner_id else "worker"


def check_target(ctx, tag: str) -> None:
    """Time a tiny int8 model on `search.target`, so an unreachable target fails before trial one."""
    from .bench import run_target

    s, keras = ctx.recipe.search, compat.keras()
    inputs = keras.Input((8, 8, 1))
    probe = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    calibration = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    path = ctx.path(f"{SEARCH_DIR}/probe_{tag}_int8.tflite")
    atomic.write_bytes(path, convert_int8(probe, calibration))
    try:
        _latency_ms(run_target(s.target, path, _bench_options(ctx, runs=1, warmup=0)))
    except EdgeError as e:
        raise UserInputError(f"search.target: '{s.target}' cannot be measured ({str(e)[:300]}); connect it "
                             "or choose a reachable target (host always is)") from None
    finally:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- chief: keras-tuner's servicer
class _ChiefServicer(OracleServicer):
    """keras-tuner's OracleServicer, plus a record of which workers were told the search is over."""

    def __init__(self, oracle):
        super().__init__(oracle)
        self.lock, self.seen, self.stopped = threading.Lock(), set(), set()

    def CreateTrial(self, request, context):
        trial = self.oracle.create_trial(request.tuner_id)
        with self.lock:
            self.seen.add(request.tuner_id)
            if trial.status == TrialStatus.STOPPED:
                self.stopped.add(request.tuner_id)
        return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

    def finished(self) -> bool:
        with self.lock:
            return bool(self.seen) and self.seen <= self.stopped and not self.oracle.ongoing_trials


def serve_oracle(oracle, log, poll_s: float = 0.2) -> set:
    """Serve `oracle` to the workers until each one that connected was told to stop.

    keras-tuner's own start_server polls every 30 s and then waits 40 s more before it returns;
    this loop ends as soon as the last worker is done. Returns the workers' tuner ids.
    """
    from concurrent import futures

    import grpc

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    servicer = _ChiefServicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # newer grpc raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise UserInputError(f"KERASTUNER_ORACLE_PORT: cannot listen on {address} (in use?); choose another port")
    server.start()
    log(f"  oracle serving on {address}; waiting for workers (python -m tflite_edge.search worker RUN_DIR)")
    try:
        while not servicer.finished():
            time.sleep(poll_s)
        time.sleep(poll_s)  # let the last STOPPED answers reach their workers
    finally:
        server.stop(grace=2).wait()
    return set(servicer.seen)


def _wait_for_chief(timeout_s: float) -> None:
    import grpc

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            raise UserInputError(f"no chief oracle at {address} within {timeout_s:.0f} s (not started yet, "
                                 "or its search already finished); start the run with "
                                 "KERASTUNER_TUNER_ID=chief first") from None


# ---------------------------------------------------------------- the stage and the worker
def _read_records(ctx) -> list:
    records = []
    for p in sorted(ctx.path(f"{SEARCH_DIR}/trials").glob("trial_*.json")):
        records.append(json.loads(p.read_text()))
    return records


def summarize(ctx, tuner_ids) -> dict:
    """Pareto front, plot and best trial from the trial records; the stage's outputs."""
    s = ctx.recipe.search
    records = _read_records(ctx)
    done = [r for r in records if r["status"] == "completed"]
    failed = [r for r in records if r["status"] != "completed"]
    if not done:
        first = failed[0]["error"] if failed else "no trial ran"
        raise EdgeError(f"search: no trial completed ({len(failed)} failed; first: {first}); "
                        f"see {ctx.path(SEARCH_DIR + '/trials')}")
    front = pareto_front(records)
    best = max(done, key=lambda r: (r[OBJECTIVE], -int(r["trial_id"])))
    keep = ("trial_id", "tuner_id", "status", "accuracy", "latency_ms", "size_bytes", OBJECTIVE, "params",
            "input_size", "seconds", "error", "model", "artifact")
    table = [{k: r[k] for k in keep if k in r} for r in records]
    atomic.write_json(ctx.path(f"{SEARCH_DIR}/pareto.json"),
                      {"objectives": {"accuracy": "max", "latency_ms": "min", "size_bytes": "min"},
                       "latency_target_ms": s.latency_target_ms, "latency_weight": s.latency_weight,
                       "latency_weight_under_target": s.latency_weight_under_target,
                       "target": s.target, "threads": s.threads, "front": front,
                       "best_trial": best["trial_id"], "trials": table})
    plot_pareto(records, front, s.latency_target_ms, ctx.path(f"{SEARCH_DIR}/pareto.png"))
    ctx.log(f"  best trial {best['trial_id']}: {_describe(ModelSpec.model_validate(best['model']), best['input_size'])}"
            f" (accuracy {best['accuracy']:.4f}, {best['latency_ms']:.3f} ms, reward {best[OBJECTIVE]:.4f}); "
            f"{len(done)} completed, {len(failed)} failed; Pareto front {front}")
    return {"model": best["model"], "best_trial": best["trial_id"],
            "best": {k: best[k] for k in ("accuracy", "latency_ms", "size_bytes", OBJECTIVE)},
            "trials_completed": len(done), "trials_failed": len(failed), "front": front,
            "tuner_ids": sorted(tuner_ids), "pareto": f"{SEARCH_DIR}/pareto.json",
            "plot": f"{SEARCH_DIR}/pareto.png"}


def search(ctx) -> dict:
    """Stage `search`: one process, or the chief of keras-tuner workers (KERASTUNER_* set)."""
    role = distributed_role()
    if role == "worker":
        raise UserInputError(f"KERASTUNER_TUNER_ID={os.environ['KERASTUNER_TUNER_ID']}: the run itself is the "
                             "chief (KERASTUNER_TUNER_ID=chief); start workers with "
                             "`python -m tflite_edge.search worker RUN_DIR`")
    if not ctx.recipe.search.space.input_sizes:
        from .tasks.classification.build import input_spec_for

        input_spec_for(ctx.recipe, ctx.dataset)  # images of varying size need model.input_size
    else:
        ctx.dataset  # a bad data path fails before anything else
    folder = ctx.path(SEARCH_DIR)
    if folder.exists():
        shutil.rmtree(folder)  # a redone search starts afresh; stale trials would join its front
    check_target(ctx, "chief" if role else "local")
    oracle = make_oracle(ctx)
    if role == "chief":
        # Before serving: the workers create their folders under search/ only once it answers.
        oracle._set_project_dir(str(folder), "oracle")
        hp = oracle.get_space()
        MobileNetV2Space(ctx.recipe).declare_hyperparameters(hp)
        oracle.update_space(hp)
        tuner_ids = serve_oracle(oracle, ctx.log)
    else:
        tuner = EdgeSearchTuner(ctx, oracle, folder, "oracle")
        tuner.search(verbose=0)
        tuner_ids = {tuner.tuner_id}
    return summarize(ctx, tuner_ids)


def run_worker(run_dir: Path, connect_timeout_s: float = 120.0, log=print) -> None:
    """A keras-tuner worker: run trials the chief's oracle hands out, into the chief's run dir."""
    from .distribute import enable_determinism
    from .recipe import load_recipe
    from .run import RunContext

    if distributed_role() != "worker":
        raise UserInputError("a worker needs KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and a "
                             "KERASTUNER_TUNER_ID without 'chief' in it (e.g. tuner0)")
    _wait_for_chief(connect_timeout_s)  # the chief wrote recipe.yaml and cleared search/ by now
    recipe = load_recipe(Path(run_dir) / "recipe.yaml")
    if recipe.search is None:
        raise UserInputError(f"{run_dir}/recipe.yaml: has no search: section; nothing for a worker to do")
    if recipe.train.deterministic:
        enable_determinism()
    ctx = RunContext(recipe, Path(run_dir), {"stages": {}}, log)
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    check_target(ctx, tuner_id)
    tuner = EdgeSearchTuner(ctx, make_oracle(ctx), ctx.path(f"{SEARCH_DIR}/workers"), tuner_id)
    tuner.search(verbose=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tflite_edge.search",
                                     description="keras-tuner worker for a run's `search` stage")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run trials for the chief (KERASTUNER_* variables set)")
    w.add_argument("run_dir", type=Path, help="the chief's run directory (--out of its run)")
    w.add_argument("--connect-timeout", type=float, default=120.0, help="seconds to wait for the chief")
    args = parser.parse_args(argv)
    from .cli import one_line

    try:
        run_worker(args.run_dir, args.connect_timeout)
    except EdgeError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
