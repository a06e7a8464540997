"""`convert.mixed`: run the search in the convert stage and write NAME_mixed.tflite.

The chosen artifact carries the run's TFLite Model Metadata like every artifact and is evaluated
on the test split and benchmarked by the later stages like every artifact; the search itself only
ever sees the validation split. Everything the search tried is kept in `mixed_search.json`.
"""
from __future__ import annotations

import json
from typing import Optional

import numpy as np

from .. import atomic
from .engine import MixedQuantizer, units_of
from .search import MixedSearch

SEARCH_FILE = "mixed_search.json"
ENGINE = "ai-edge-quantizer"


def margin_method(spec) -> Optional[str]:
    if spec.drop_confidence is None:
        return None
    from ..margin import METHOD

    return METHOD


def engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{ENGINE} {version(ENGINE)}"
    except PackageNotFoundError:
        return ENGINE


def _validation(ctx, limit: int):
    from ..data.pipeline import held_out, numpy_batches

    held = held_out(ctx.dataset, ctx.recipe)
    if held is None:
        raise ValueError("no validation split")  # the recipe rules make this unreachable
    x, y = held
    x, y = x[:limit], np.asarray(y[:limit])
    return np.concatenate(list(numpy_batches(x, ctx.dataset, ctx.input_spec))), y


def scores(model_path: str, images: np.ndarray, batch: int = 64, threads: int = 1) -> np.ndarray:
    """Float output scores of a classifier .tflite for preprocessed float images."""
    from ..runtime import make_interpreter, predict_scores

    interp, _ = make_interpreter(model_path, threads)
    return predict_scores(interp, (images[i:i + batch] for i in range(0, len(images), batch)), model_path, threads)


def latency_fn(ctx, spec):
    """p50 ms of one model on the objective target: the benchmark stage's engine and settings,
    one process and `spec.runs` invocations per candidate."""
    from ..bench import BenchOptions, run_target

    b = ctx.recipe.benchmark
    target = spec.target or b.targets[0]
    options = BenchOptions(threads=(b.threads[0],), runs=spec.runs, warmup=b.warmup, warmup_min_s=b.warmup_min_s,
                           processes=1, engine=b.engine, delegates=tuple(b.delegates[:1]),
                           android_binary=b.android_binary)

    def time_ms(path: str) -> Optional[float]:
        record = run_target(target, path, options)[0]
        return record.get("latency_ms_p50") or record.get("latency_ms_mean")

    def profile(path: str) -> Optional[dict]:
        from dataclasses import replace

        record = run_target(target, path, replace(options, profile=True, runs=min(spec.runs, 100)))[0]
        return record.get("op_profile")

    return target, time_ms, profile


def export_mixed(ctx, float_bytes: bytes, calibration: np.ndarray, described) -> dict:
    """Search, write NAME_mixed.tflite (with metadata) and mixed_search.json; the artifact dict."""
    from ..export import write_artifact
    from ..metadata import add_metadata

    spec = ctx.recipe.convert.mixed
    x_val, y_val = _validation(ctx, spec.validation_samples)
    units = units_of(float_bytes, spec.granularity)
    ctx.log(f"  mixed: {len(units)} {spec.granularity}s, precisions {', '.join(spec.precisions)}; "
            f"{len(y_val)} validation images")
    quantizer = MixedQuantizer(float_bytes, units, calibration)
    target, time_ms, profile = latency_fn(ctx, spec)
    search = MixedSearch(quantizer, y_val, lambda p: scores(p, x_val), time_ms, ctx.path("artifacts/mixed"),
                         spec.max_accuracy_drop, spec.precisions, spec.max_candidates, spec.min_gain, ctx.log,
                         profile=profile if target.split(":")[0] in ("host", "android") else None,
                         granularity=spec.granularity, confidence=spec.drop_confidence)
    result = search.run()
    chosen = result.chosen
    if chosen is None:
        raise RuntimeError("convert.mixed: no candidate could be converted and timed")
    name = f"{ctx.recipe.name}_mixed"
    rel = f"artifacts/{name}.tflite"
    data = open(chosen.path, "rb").read()
    info = write_artifact(add_metadata(data, described), ctx.path(rel), "mixed")
    timed = [c for c in result.candidates if c.latency_ms is not None]
    record = {
        "engine": engine_version(), "target": target, "objective": "latency_ms_p50 on the target",
        "max_accuracy_drop": spec.max_accuracy_drop, "met": result.met, "granularity": spec.granularity,
        "drop_confidence": spec.drop_confidence, "margin_method": margin_method(spec),
        "float_val_accuracy": result.float_accuracy, "validation_samples": int(len(y_val)),
        "chosen": chosen.id, "candidates_timed": len(timed), "candidates_converted": len(result.candidates),
        "wall_s": result.wall_s, "notes": result.notes,
        "units": [{"name": u.name, "ops": len(u.ops), "op_types": list(u.op_types)} for u in result.units],
        "sensitivity": result.sensitivity,
        "candidates": [c.record(result.units) for c in result.candidates],
    }
    atomic.write_text(ctx.path(SEARCH_FILE), json.dumps(record, indent=1))
    judged = search.judged_drop(chosen)
    summary = {"chosen": chosen.id, "label": chosen.label, "met": result.met,
               "val_accuracy_drop": judged, "val_accuracy_drop_seen": chosen.drop,
               "drop_confidence": spec.drop_confidence, "max_accuracy_drop": spec.max_accuracy_drop,
               "latency_ms": chosen.latency_ms, "ops_by_precision": chosen.record(result.units)["ops_by_precision"],
               "candidates_timed": len(timed), "wall_s": round(result.wall_s, 1), "search_file": SEARCH_FILE}
    verdict = "within" if result.met else "NOT within"
    bound = "" if spec.drop_confidence is None else f" (upper bound {judged:+.4f} at {spec.drop_confidence:.0%})"
    ctx.log(f"  {rel}: candidate {chosen.id} ({chosen.label}), validation drop {chosen.drop:+.4f}{bound} "
            f"{verdict} {spec.max_accuracy_drop}, {chosen.latency_ms:.4f} ms on {target}; "
            f"{len(timed)} candidates timed in {result.wall_s:.0f} s")
    if not result.met:
        ctx.log(f"  warning: convert.mixed: no candidate kept the validation drop{' bound' if bound else ''} within "
                f"{spec.max_accuracy_drop}; the closest came to {judged:.4f} and is written as {rel} (its gate fails)")
    return {"name": name, "path": rel, **info, "mixed": summary}
