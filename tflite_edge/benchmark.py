"""Stage `benchmark`: every artifact on every target in `benchmark.targets`, each thread count.

A target that fails (device absent, model that cannot prepare) is recorded with its error and the
rest of the matrix still runs.
"""
from __future__ import annotations

from .bench import BenchOptions, run_target
from .errors import EdgeError


def benchmark(ctx) -> dict:
    b = ctx.recipe.benchmark
    options = BenchOptions(threads=tuple(b.threads), runs=b.runs, warmup=b.warmup,
                           delegates=tuple(b.delegates), android_binary=b.android_binary)
    results = {}
    for art in ctx.outputs("convert")["artifacts"]:
        per_target = {}
        for target in b.targets:
            if art.get("runs_on") and target.split(":")[0] != art["runs_on"]:
                continue  # an Edge TPU-compiled model runs only on its accelerator
            try:
                records = run_target(target, ctx.path(art["path"]), options)
            except EdgeError as e:
                ctx.log(f"  {art['name']} on {target}: {e}")
                per_target[target] = {"target": target, "error": str(e)}
                continue
            # The first thread count is the headline; the full sweep is kept beside it.
            per_target[target] = dict(records[0], sweep=records) if len(records) > 1 else records[0]
            p50 = records[0].get("latency_ms_p50") or records[0].get("latency_ms_mean")
            ctx.log(f"  {art['name']} on {target}: {'-' if p50 is None else f'{p50:.3f}'} ms "
                    f"({records[0].get('threads')} thread(s))")
        results[art["name"]] = per_target
    return {"by_artifact": results}
