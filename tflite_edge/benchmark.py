"""Stage `benchmark`: every artifact on every target in `benchmark.targets`, each thread count.

A target that fails (device absent, model that cannot prepare) is recorded with its error and the
rest of the matrix still runs.
"""
from __future__ import annotations

import numpy as np

from .bench import BenchOptions, run_targets
from .bench.record import BenchRecord
from .errors import EdgeError


def write_eval_set(ctx, limit: int) -> str:
    """The first `limit` test images, preprocessed, with labels: what a board evaluates on."""
    from . import atomic
    from .data.pipeline import numpy_batches

    d = ctx.dataset
    x = np.concatenate(list(numpy_batches(d.test_x[:limit], d, ctx.input_spec)))
    with atomic.atomic_path(ctx.path("eval_set.npz")) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, x=x.astype(np.float32), y=np.asarray(d.test_y[:limit]))
    return str(ctx.path("eval_set.npz"))


def benchmark(ctx) -> dict:
    b = ctx.recipe.benchmark
    needs_eval = any(t.split(":")[0] == "ssh" for t in b.targets)
    options = BenchOptions.from_recipe(b, write_eval_set(ctx, b.eval_samples) if needs_eval else None)
    results = {}
    convert = ctx.outputs("convert")
    # adaptive: cascade segments are timed like artifacts; the report adds them up per exit
    for art in convert["artifacts"] + convert.get("segments", []):
        per_target = {}
        # an Edge TPU-compiled model runs only on its accelerator
        targets = [t for t in b.targets if not art.get("runs_on") or t.split(":")[0] == art["runs_on"]]
        for target, records in run_targets(targets, ctx.path(art["path"]), options).items():
            if isinstance(records, EdgeError):
                ctx.log(f"  {art['name']} on {target}: {records}")
                per_target[target] = BenchRecord(target=target, error=str(records)).to_dict()
                continue
            # The first thread count is the headline; the full sweep is kept beside it.
            per_target[target] = dict(records[0], sweep=records) if len(records) > 1 else records[0]
            p50 = records[0].get("latency_ms_p50") or records[0].get("latency_ms_mean")
            ctx.log(f"  {art['name']} on {target}: {'-' if p50 is None else f'{p50:.3f}'} ms "
                    f"({records[0].get('threads')} thread(s))")
        results[art["name"]] = per_target
    if not b.profile:
        profile_slow_int8(ctx, convert["artifacts"], results, options)
    return {"by_artifact": results}


def profile_slow_int8(ctx, artifacts: list, results: dict, options) -> None:
    """Where int8 is slower than float32 on a target that can profile, profile both, so that the
    report's warning names the ops that cost most and those that fell out of the delegate."""
    from dataclasses import replace

    from .bench import PROFILING_TARGETS, run_target

    by_format = {a["format"]: a for a in artifacts}
    if "int8" not in by_format or "float32" not in by_format:
        return
    i8, f32 = (results.get(by_format[f]["name"], {}) for f in ("int8", "float32"))
    for target, rec in i8.items():
        other = f32.get(target) or {}
        t8, t32 = rec.get("latency_ms_p50"), other.get("latency_ms_p50")
        if target.split(":")[0] not in PROFILING_TARGETS or not t8 or not t32 or t8 <= t32:
            continue
        ctx.log(f"  int8 is slower than float32 on {target} ({t8:.3f} vs {t32:.3f} ms): profiling both")
        for fmt, record in (("int8", rec), ("float32", other)):
            try:
                profiled = run_target(target, ctx.path(by_format[fmt]["path"]),
                                      replace(options, profile=True, threads=(record.get("threads") or 1,),
                                              processes=1, runs=max(options.runs, 100)))[0]
                record["op_profile"] = profiled.get("op_profile")
            except EdgeError as e:
                ctx.log(f"  {by_format[fmt]['name']} on {target}: no profile ({e})")
