"""Stage `optimize`: each step of the recipe through its technique (registry.TECHNIQUES), measured
by the task, saved so that a rerun resumes from it."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .. import atomic, compat
from ..model_io import fresh_copy, load_keras_model
from ..recipe import step_tag
from ..tasks import task_for
from .registry import TECHNIQUES


def _rebuild_path(path: Path) -> Path:
    return Path(path).with_suffix(".rebuild.json")


def save_checkpoint(ctx, model, rel: str, name: str, rebuild: dict) -> None:
    """Save one step's model as `rel`. A technique with `rewrap` (QAT) also gets its weights and
    `rebuild` (the base checkpoint, spec, where, history) beside it: its .keras does not load back."""
    side = _rebuild_path(ctx.path(rel))
    if TECHNIQUES.meta(name).get("rewrap") is not None:
        weights = rel.replace(".keras", "_weights.h5")
        with atomic.atomic_path(ctx.path(weights)) as tmp:
            model.save_weights(str(tmp))
        atomic.write_json(side, {**rebuild, "technique": name, "weights": weights})
    else:
        side.unlink(missing_ok=True)
    ctx.save_model(model, rel)


def load_checkpoint(ctx, rel: str):
    """Load a checkpoint this stage wrote. A QAT graph saved as .keras does not load back (tfmot's
    quantize layers expect variables the file lacks, even under quantize_scope), so a QAT step also
    writes its weights and how to rebuild it: the model before QAT, wrapped again the same way."""
    side = _rebuild_path(ctx.path(rel))
    if not side.exists():
        return load_keras_model(ctx.path(rel))
    info = json.loads(side.read_text())
    base = load_checkpoint(ctx, info["base"])
    technique = info.get("technique", "qat")  # runs from before the key: QAT, the only one then
    q = TECHNIQUES.meta(technique)["rewrap"](fresh_copy(base), info["spec"], info["where"], info["history"])
    q.load_weights(str(ctx.path(info["weights"])))
    return q


def optimize(ctx) -> dict:
    """Stage `optimize`; returns {"model": final checkpoint, "baseline": ..., "steps": [...]}."""
    keras = compat.keras() if ctx.recipe.optimize else None
    model_rel = ctx.outputs("train")["model"]
    if not ctx.recipe.optimize:
        return {"model": model_rel, "steps": []}
    if ctx.recipe.teacher is not None:
        from ..distill import teachers

        teachers(ctx)  # bad teacher files fail here, before any fine-tune
    keras.utils.set_random_seed(ctx.recipe.seed + 1)
    model = ctx.load_model(model_rel)
    task = task_for(ctx.recipe)
    score_text = task.score_text  # accuracy, or mAP@.5 for detectors
    baseline = task.measure(ctx, model, "trained")

    ctx.log(f"  trained: {score_text(baseline)}, sparsity {baseline['sparsity']:.3f}, "
            f"float32 tflite {baseline['gzip_bytes']:,} B gzipped")
    history, steps, base_rel = [], [], model_rel
    for i, step in enumerate(ctx.recipe.optimize):
        name = step_tag(step)
        spec = getattr(step, name)
        where = f"optimize[{i}].{name}"
        t0 = time.monotonic()
        model, info = TECHNIQUES.get(name)(ctx, fresh_copy(model), spec, where, i, history)
        rel = f"checkpoints/optimize_{i}_{name}.keras"
        rebuild = {"base": base_rel, "spec": spec.model_dump(mode="json"), "where": where, "history": list(history)}
        save_checkpoint(ctx, model, rel, name, rebuild)
        history.append(name)
        base_rel = rel
        m = task.measure(ctx, model, name)
        m.update({"index": i, **info, "checkpoint": rel, "seconds": round(time.monotonic() - t0, 3)})
        steps.append(m)
        ctx.log(f"  {name}: {score_text(m)}, sparsity {m['sparsity']:.3f}, unique/kernel "
                f"max {m['unique_values_per_kernel']['max']}, float32 tflite {m['gzip_bytes']:,} B gzipped")
    return {"model": steps[-1]["checkpoint"], "baseline": baseline, "steps": steps}

