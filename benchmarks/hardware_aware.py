"""Issue 22's figures: recommended and mixed-precision artifacts against uniform precision, side by side.

    .venv/bin/python benchmarks/hardware_aware.py RECIPE [--out runs/NAME] [--rounds 5] [--runs 300]
                                                  [--set KEY=VALUE ...] [--json FILE]

1. Runs (or resumes) RECIPE into --out: per-op profiles (benchmark.profile), the mixed-precision
   search (convert.mixed, if the recipe has it), test accuracy of every artifact, the report's
   `recommended` artifact per target.
2. Times every host artifact again, interleaved: --rounds rounds, each timing every artifact once
   with `tflite-edge bench --json` (the CLI a user runs: LiteRT's benchmark tool, the benchmark
   stage's engine), in a rotated order per round. The median over rounds of each artifact's p50 is
   the figure.
Printed: per artifact the test accuracy and the per-round and median p50; the recommended artifact
against the fastest single-precision artifact and against all-int8; the mixed artifact against the
best single-precision one at equal accuracy (within 0.3 point); the profile's soundness (per-op
times added up against the profiled invoke p50 and this script's p50) and delegate coverage; the
search's cost (candidates timed, wall time).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_cli import interleaved_p50  # benchmarks/bench_cli.py (scripts run from this folder)

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ("float32", "float16", "dynamic", "int8", "int8_io", "uint8_io", "int16x8")




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe")
    ap.add_argument("--out")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    recipe = Path(args.recipe)
    out = Path(args.out or ROOT / "runs" / recipe.stem)
    overrides = [x for kv in args.set for x in ("--set", kv)]
    run = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "run", str(recipe), "--out", str(out), *overrides])
    report = json.loads((out / "report.json").read_text())
    arts = [a for a in report["artifacts"] if "host" in a.get("benchmark", {}) and not a.get("runs_on")]
    print(f"run: {out} (exit {run.returncode})  recipe: {recipe} {' '.join(overrides)}")
    print(f"Keras test accuracy {100 * report['keras']['accuracy']:.2f}%")

    rounds = interleaved_p50({a["name"]: out / a["path"] for a in arts}, args.rounds, args.runs)
    p50 = {name: statistics.median(v) for name, v in rounds.items()}
    print(f"\nhost p50, {args.rounds} interleaved rounds of {args.runs} runs (tflite-edge bench, "
          "LiteRT's benchmark tool):")
    for a in arts:
        print(f"  {a['name']:<48} {a['format']:<9} acc {100 * a['accuracy']:.2f}%  p50 {p50[a['name']]:.4f} ms  "
              f"rounds {', '.join(f'{x:.4f}' for x in rounds[a['name']])}")

    figures = {"run": str(out), "p50_ms": p50, "rounds_ms": rounds,
               "accuracy": {a["name"]: a["accuracy"] for a in arts}}
    single = [a for a in arts if a["format"] in SINGLE]
    fastest = min(single, key=lambda a: p50[a["name"]])
    int8 = next((a for a in arts if a["format"] == "int8"), None)
    rec = (report.get("recommended") or {}).get("host") or {}
    if rec.get("artifact"):
        r = rec["artifact"]
        vs_fast = p50[r] / p50[fastest["name"]]
        print(f"\nrecommended on host: {r}; p50 {p50[r]:.4f} ms = {vs_fast:.3f} x the fastest single-precision "
              f"artifact ({fastest['name']}, {p50[fastest['name']]:.4f} ms): "
              f"{'within 3% or faster: met' if vs_fast <= 1.03 else 'NOT within 3%'}")
        figures.update(recommended=r, recommended_vs_fastest_single=vs_fast)
        if int8:
            x = p50[int8["name"]] / p50[r]
            slower = p50[int8["name"]] > p50[fastest["name"]] * 1.0 and int8 is not fastest
            print(f"  all-int8 {int8['name']} {p50[int8['name']]:.4f} ms: the recommended one is {x:.2f}x faster"
                  + (f" ({'>= 1.25x: met' if x >= 1.25 else '< 1.25x: NOT met'}; int8 is the slower here)"
                     if slower else " (int8 is not the slower one here: no 1.25x target)"))
            figures["recommended_speedup_over_int8"] = x
    mixed = next((a for a in arts if a["format"] == "mixed"), None)
    if mixed:
        equal = [a for a in single if abs(a["accuracy"] - mixed["accuracy"]) <= 0.003]
        best = min(equal or single, key=lambda a: p50[a["name"]])
        x = p50[best["name"]] / p50[mixed["name"]]
        print(f"\nmixed {mixed['name']}: acc {100 * mixed['accuracy']:.2f}%, p50 {p50[mixed['name']]:.4f} ms; "
              f"best single precision {'at equal accuracy' if equal else '(none within 0.3 pt)'}: {best['name']} "
              f"acc {100 * best['accuracy']:.2f}%, {p50[best['name']]:.4f} ms: mixed is {x:.3f}x as fast "
              f"({'>= 1.1x: met' if x >= 1.1 else '< 1.1x: NOT met'})")
        f32 = next((a for a in arts if a["format"] == "float32"), None)
        if f32 and int8:
            loss = f32["accuracy"] - int8["accuracy"]
            print(f"  int8 loses {100 * loss:.2f} pt against float32 "
                  f"({'>= 1 pt: a figure model for the accuracy target' if loss >= 0.01 else '< 1 pt'}); mixed is "
                  f"{100 * (f32['accuracy'] - mixed['accuracy']):.2f} pt from float32 at "
                  f"{p50[mixed['name']] / p50[int8['name']]:.2f}x the int8 latency")
        search = report.get("mixed_search") or {}
        chosen = next((c for c in search.get("candidates", []) if c["id"] == search.get("chosen")), {})
        print(f"  search: {search.get('candidates_timed')} candidates timed ({len(search.get('candidates', []))} "
              f"converted), {search.get('wall_s', 0):.0f} s, {search.get('engine')}; chosen {chosen.get('label')} "
              f"{chosen.get('ops_by_precision')}; notes: {search.get('notes')}")
        figures.update(mixed_speedup_vs_best_single=x, mixed_best_single=best["name"],
                       search_candidates=search.get("candidates_timed"), search_wall_s=search.get("wall_s"))

    print("\nper-op profiles (benchmark stage, LiteRT's profiler):")
    for a in arts:
        prof = a["benchmark"]["host"].get("op_profile")
        if not prof:
            continue
        cov = prof.get("coverage") or {}
        tops = ", ".join(f"{t['node_type']} {t['pct']:.0f}%" for t in
                         sorted(prof["by_node_type"], key=lambda t: -t["avg_ms"])[:3])
        print(f"  {a['name']}: ops {prof['ops_ms']:.4f} ms = {100 * prof['ops_ms'] / prof['invoke_ms_p50']:.0f}% of "
              f"the profiled invoke p50 {prof['invoke_ms_p50']:.4f} ms, {100 * prof['ops_ms'] / p50[a['name']]:.0f}% of "
              f"this script's p50; {cov.get('delegate')} {cov.get('delegated')}/{cov.get('nodes')} nodes, "
              f"{cov.get('partitions')} partition(s), outside: {cov.get('cpu_ops') or 'none'}; top: {tops}")
        figures.setdefault("profiles", {})[a["name"]] = {
            "ops_ms": prof["ops_ms"], "invoke_ms_p50": prof["invoke_ms_p50"], "coverage": cov}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
