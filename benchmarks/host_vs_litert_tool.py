"""Issue 16's figure: `tflite-edge bench` on the host against LiteRT's own benchmark tool.

    .venv/bin/python benchmarks/host_vs_litert_tool.py [--quickstart runs/quickstart] [--repeats 5]
                                                      [--threads 1,2] [--with-worker] [MODEL.tflite ...]

Models: the quickstart's int8 artifact (`RUN_DIR/artifacts/quickstart_int8.tflite`; run
`tflite-edge run recipes/quickstart.yaml` first) and an int8 MobileNetV2 1.0 224 built here
(untrained, calibrated on noise: latency does not depend on the weights' values), or the MODELs given.

For each model and thread count, `--repeats` rounds, each round in turn:
  ours  `tflite-edge bench MODEL --target host --threads T --runs 200 --json` (the CLI as a user
        runs it: default engine, processes and warm-up) -> latency_ms_p50, and which engine timed it;
  tool  `python -m ai_edge_litert.tools.benchmark_litert_model --model=MODEL --num_threads=T
        --num_runs=200` (its defaults otherwise) -> the `Inference (median)` it prints (0.01 ms);
  worker (with --with-worker) `benchmark_host(..., engine="python_worker")`, our Python loop.
Printed per row: median over rounds of each, ours / tool, the CV (sample stdev / mean) of each over
the rounds, and whether the issue's targets hold (ratio within 5%; CV of ours <= 3% at 1 thread).

`--same-process` instead looks for the cause of a gap between the two: in one process, the
worker's call (`Interpreter.invoke`) and the tool's (`CompiledModel.run_by_name`, set up as the tool
does) on the same model, alternating blocks of 10 calls for 400 calls each, so a slow spell of the
host hits both alike; prints each median (us) and their ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 200
TOOL = "ai_edge_litert.tools.benchmark_litert_model"


def ours(model: Path, threads: int) -> tuple:
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "bench", str(model), "--target", "host",
                           "--threads", str(threads), "--runs", str(RUNS), "--json"],
                          capture_output=True, text=True, check=True)
    row = json.loads(proc.stdout)
    return row["latency_ms_p50"], row.get("engine", "?") + (" (fallback)" if row.get("engine_fallback") else "")


def tool(model: Path, threads: int) -> float:
    from tflite_edge.bench import parse

    proc = subprocess.run([sys.executable, "-m", TOOL, f"--model={model}", f"--num_threads={threads}",
                           f"--num_runs={RUNS}"], capture_output=True, text=True, check=True)
    return parse.parse_litert_tool(proc.stdout)["median_ms"]


def worker(model: Path, threads: int) -> float:
    from tflite_edge.bench import PROCESSES, PYTHON_WORKER
    from tflite_edge.bench.host import benchmark_host

    return benchmark_host(model, threads=threads, runs=RUNS, processes=PROCESSES, engine=PYTHON_WORKER)["latency_ms_p50"]


def same_process(model: Path, threads: int, blocks: int = 40, block: int = 10) -> tuple:
    """(Interpreter.invoke median us, the tool's CompiledModel.run_by_name median us), interleaved."""
    import time

    import ai_edge_litert.tools.benchmark_litert_model as bt
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge.runtime import random_inputs

    interp = Interpreter(model_path=str(model), num_threads=threads)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), random_inputs(interp)):
        interp.set_tensor(detail["index"], value)
    # the tool's own set-up (run_benchmark in benchmark_litert_model.py)
    compiled, accel, env, env_options, options, cpu_options = bt._import_litert()
    cm = compiled.from_file(str(model), environment=env.create(options=env_options()),
                            options=options(hardware_accelerators=accel(accel.CPU),
                                            cpu_options=cpu_options(num_threads=threads)))
    sig = list(cm.get_signature_list())[0]
    details = cm.get_input_tensor_details(sig)
    inputs = {n: cm.create_input_buffer_by_name(sig, n) for n in details}
    outputs = {n: cm.create_output_buffer_by_name(sig, n) for n in cm.get_output_tensor_details(sig)}
    for name, buf in inputs.items():
        bt.fill_random_input(buf, details[name])
    calls = {"interpreter": interp.invoke, "compiled_model": lambda: cm.run_by_name(sig, inputs, outputs)}
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:  # warm both up
        for call in calls.values():
            call()
    times = {name: [] for name in calls}
    for b in range(blocks):
        for name in (list(calls) if b % 2 else list(calls)[::-1]):
            for _ in range(block):
                t0 = time.perf_counter_ns()
                calls[name]()
                times[name].append((time.perf_counter_ns() - t0) / 1e3)
    return statistics.median(times["interpreter"]), statistics.median(times["compiled_model"])


def make_mobilenet_v2_int8(folder: Path) -> Path:
    import numpy as np

    from tflite_edge import compat
    from tflite_edge.export import convert_keras
    from tflite_edge.models import build_classifier
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec

    compat.keras().utils.set_random_seed(0)
    model = build_classifier(ModelSpec(name="mobilenet_v2", width=1.0), InputSpec(224, 224, 3), 1000)
    calib = np.random.default_rng(0).uniform(-1, 1, (16, 224, 224, 3)).astype(np.float32)
    path = folder / "mobilenet_v2_1.0_224_int8.tflite"
    path.write_bytes(convert_keras(model, "int8", calib))
    return path


def cv_percent(values) -> float:
    return 100 * statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--quickstart", type=Path, default=Path("runs/quickstart"), help="the quickstart's run directory")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--with-worker", action="store_true", help="also time with our Python worker")
    ap.add_argument("--same-process", action="store_true",
                    help="Interpreter.invoke against the tool's CompiledModel.run_by_name in one process")
    a = ap.parse_args(argv)
    models = list(a.models)
    if not models:
        qs = a.quickstart / "artifacts" / "quickstart_int8.tflite"
        if not qs.is_file():
            print(f"error: {qs} not found; run `tflite-edge run recipes/quickstart.yaml` first "
                  "(or pass --quickstart RUN_DIR, or MODEL paths)", file=sys.stderr)
            return 2
        models = [qs, make_mobilenet_v2_int8(Path(tempfile.mkdtemp()))]
    threads = [int(t) for t in a.threads.split(",")]
    if a.same_process:
        print(f"{'model':<36} thr  interpreter_us  compiled_model_us  ratio")
        for model in models:
            for t in threads:
                mine, ref = same_process(model, t)
                print(f"{model.name:<36} {t:>3}  {mine:>14.1f}  {ref:>17.1f}  {mine / ref:.3f}", flush=True)
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {a.repeats} interleaved "
          f"rounds of {RUNS} runs")
    head = (f"{'model':<36} thr  {'ours_p50':>9} {'tool_med':>9} {'ratio':>6} {'cv_ours%':>8} {'cv_tool%':>8}"
            + (f" {'worker':>9} {'w/tool':>6}" if a.with_worker else "") + "  target  engine")
    print(head)
    for model in models:
        for t in threads:
            mine, ref, work, engines = [], [], [], set()
            for _ in range(a.repeats):
                p50, engine = ours(model, t)
                mine.append(p50)
                engines.add(engine)
                ref.append(tool(model, t))
                if a.with_worker:
                    work.append(worker(model, t))
            m, r = statistics.median(mine), statistics.median(ref)
            ok = abs(m / r - 1) <= 0.05 and (t != 1 or cv_percent(mine) <= 3.0)
            print(f"{model.name:<36} {t:>3}  {m:>9.4f} {r:>9.2f} {m / r:>6.3f} {cv_percent(mine):>8.2f} "
                  f"{cv_percent(ref):>8.2f}"
                  + (f" {statistics.median(work):>9.4f} {statistics.median(work) / r:>6.3f}" if a.with_worker else "")
                  + f"  {'met' if ok else 'MISSED':<6}  {','.join(sorted(engines))}", flush=True)
            print(f"{'':<36}      ours {' '.join(f'{v:.4f}' for v in mine)} | tool {' '.join(f'{v:.2f}' for v in ref)}"
                  + (f" | worker {' '.join(f'{v:.4f}' for v in work)}" if a.with_worker else ""), flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
