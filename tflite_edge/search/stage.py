"""Stage `search`: latency-aware architecture search over the mobilenet_v2 backbone (MnasNet).

FLOPs do not predict latency, so every trial is measured: it trains for `epochs_per_trial`,
converts to int8 TFLite, is timed on `search.target` and scored with MnasNet's reward
ACC * (LAT / T)^w. The split follows keras-tuner (HyperModel / Oracle / Tuner):

- `space.MobileNetV2Space` (HyperModel): hyperparameters -> ModelSpec -> Keras model.
- keras-tuner's random-search Oracle proposes (`trial.make_oracle`); its objective is the reward.
- `trial.EdgeSearchTuner` (BaseTuner): runs one trial (`trial.measure_trial`) and writes
  search/trials/trial_ID.json, failed trials included (keras-tuner only sums objectives, so
  accuracy, latency and size are kept here and their Pareto front is computed by us,
  `scoring.pareto_front`: search/pareto.json and search/pareto.png).
- `distributed`: parallel trials over keras-tuner's gRPC chief and workers (loopback only);
  `python -m tflite_edge.search worker RUN_DIR` starts a worker (`__main__.py`).

The best trial's ModelSpec is this stage's output `model`; `build` uses it in place of `model:`.
Importing this module starts TensorFlow (keras-tuner imports it); the stage loads it lazily.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .. import atomic
from ..errors import EdgeError, UserInputError
from ..plots import plot_pareto
from ..recipe import ModelSpec
from .distributed import distributed_role, serve_oracle, wait_for_chief
from .scoring import OBJECTIVE, SEARCH_DIR, describe, pareto_front
from .space import MobileNetV2Space
from .trial import EdgeSearchTuner, check_target, make_oracle


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
    ctx.log(f"  best trial {best['trial_id']}: {describe(ModelSpec.model_validate(best['model']), best['input_size'])}"
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
        from ..tasks.classification.build import input_spec_for

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
    from ..distribute import enable_determinism
    from ..recipe import load_recipe
    from ..run import RunContext

    if distributed_role() != "worker":
        raise UserInputError("a worker needs KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and a "
                             "KERASTUNER_TUNER_ID without 'chief' in it (e.g. tuner0)")
    wait_for_chief(connect_timeout_s)  # the chief wrote recipe.yaml and cleared search/ by now
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
