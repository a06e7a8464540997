"""`tflite-edge bench MODEL.tflite...`: latency, init time and peak memory on one or more targets."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .argtypes import count, int_list, seconds
from ..bench import HOST_ENGINES, LITERT_TOOL, PROCESSES, WARMUP_MIN_S
from ..errors import EdgeError, one_line


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark .tflite models on a target")
    p.add_argument("models", nargs="+")
    p.add_argument("--target", action="append", default=None,
                   help="host (default), android[:SERIAL], ssh:USER@HOST, coral[:DEVICE]; repeatable")
    p.add_argument("--threads", type=int_list, default=[1])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--warmup-min-secs", type=seconds, default=WARMUP_MIN_S,
                   help=f"warm up for at least this long too (default {WARMUP_MIN_S} s, as benchmark_model)")
    p.add_argument("--processes", type=count, default=PROCESSES,
                   help=f"host, ssh: spread --runs over up to this many fresh processes, pooled (default {PROCESSES})")
    p.add_argument("--engine", choices=HOST_ENGINES, default=LITERT_TOOL,
                   help="host: who times it: benchmark_litert_model (LiteRT's tool; falls back to python_worker, "
                   "saying why) or python_worker")
    p.add_argument("--delegates", default="xnnpack", help="android: comma-separated xnnpack,gpu,nnapi")
    p.add_argument("--benchmark-binary", default=os.environ.get("TFLITE_EDGE_BENCHMARK_MODEL"),
                   help="android: LiteRT benchmark_model binary (env TFLITE_EDGE_BENCHMARK_MODEL)")
    p.add_argument("--profile", action="store_true",
                   help="per-op profile too (host: LiteRT's profiler; android: benchmark_model "
                   "--enable_op_profiling): time per op and op type, which ops ran outside the delegate")
    p.add_argument("--top", type=int, default=10, help="with --profile: op types listed (default 10)")
    p.add_argument("--json", action="store_true", help="print the report.json benchmark fields")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..bench import BenchOptions, run_targets
    from ..bench.host import check_tflite_file
    from ..bench.record import BenchRecord

    options = BenchOptions.from_args(args)

    results, failed = [], set()
    for model in args.models:
        check_tflite_file(Path(model))
    for model in args.models:
        for target, records in run_targets(args.target, Path(model), options).items():
            if isinstance(records, EdgeError):  # one target failing does not stop the others
                failed.add(records.exit_code)
                results.append(BenchRecord(model=model, target=target, error=str(records)).to_dict())
                print(f"error: {one_line(records)}", file=sys.stderr)
                continue
            results.extend({"model": model, **rec} for rec in records)
    if args.json:
        print(json.dumps(results if len(results) != 1 else results[0], indent=2))
    else:
        for r in results:
            if "error" in r:
                continue
            print(f"{r['model']} [{r['target']}, {r['threads']} thread(s), {r.get('delegate')}]: "
                  + "  ".join(f"{label} {r[key]:.3f} ms" for label, key in
                              (("p50", "latency_ms_p50"), ("p90", "latency_ms_p90"), ("mean", "latency_ms_mean"),
                               ("init", "init_ms")) if r.get(key) is not None)
                  + (f"  peak {r['peak_memory_mb']:.0f} MB" if r.get("peak_memory_mb") else "")
                  + (f"  [{r['engine']}]" if r.get("engine") else "")
                  + (f"  NOTE: {r['engine_fallback']}" if r.get("engine_fallback") else "")
                  + (f"  WARNING: {r['fallback_warning']}" if r.get("fallback_warning") else ""))
            if r.get("op_profile"):
                print(profile_text(r["op_profile"], args.top))
    return max(failed, default=0)


def profile_text(profile: dict, top: int) -> str:
    """The op types that cost most, and where the delegate stops, for the terminal."""
    from ..bench.op_profile import describe, top_types

    lines = [f"  {'op type':<52} {'where':<9} {'nodes':>5} {'ms/run':>9} {'share':>7}"]
    for t in top_types(profile, top):
        lines.append(f"  {t['node_type'][:52]:<52} {t['where']:<9} {t['count']:>5} {t['avg_ms']:>9.4f} "
                     f"{t['pct']:>6.1f}%")
    lines.append(f"  {describe(profile)}")
    if profile.get("invoke_ms_p50"):
        lines.append(f"  ops add up to {profile['ops_ms']:.4f} ms of the profiled invoke's "
                     f"{profile['invoke_ms_p50']:.4f} ms p50; the rest is the runtime between ops")
    return "\n".join(lines)
