"""kill -9 the quickstart at random points, rerun the same command, compare with an uninterrupted run.

    python benchmarks/kill_resume.py [--kills 5] [--seed 1] [--work /tmp/kill_resume]

For each kill: which stages the manifest held when the process died, whether the rerun redid any of
them (it must not: nothing finished is lost), and whether the resumed run's metrics equal the
uninterrupted run's (exact: with train.deterministic the CPU run is bit-identical for a seed).
Exit status 0 only if every resumed run completed and matched.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "quickstart.yaml"


def cli(recipe: Path, run_dir: Path):
    return [sys.executable, "-m", "tflite_edge.cli", "run", str(recipe), "--out", str(run_dir)]


def env():
    return dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


def metrics(run_dir: Path) -> dict:
    """What must not change when a run is resumed (timings and latencies are measurements)."""
    rep = json.loads((run_dir / "report.json").read_text())
    return {"keras_accuracy": rep["keras"]["accuracy"],
            "gates": [(g["name"], g["value"], g["passed"]) for g in rep["gates"]],
            "artifacts": [(a["name"], a["size_bytes"], a["gzip_bytes"], a["accuracy"], a["agreement_with_keras"])
                          for a in rep["artifacts"]]}


def done_stages(run_dir: Path) -> list:
    p = run_dir / "manifest.json"
    if not p.exists():
        return []
    return [s for s, e in json.loads(p.read_text())["stages"].items() if e.get("done")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/kill_resume")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # A snapshot with every default filled in: edits to recipes/ during the benchmark change nothing.
    from tflite_edge.recipe import load_recipe, recipe_to_yaml

    recipe = work / "quickstart.yaml"
    recipe.write_text(recipe_to_yaml(load_recipe(RECIPE)))

    t0 = time.monotonic()
    ref = subprocess.run(cli(recipe, work / "reference"), env=env(), capture_output=True, text=True)
    ref_s = time.monotonic() - t0
    if ref.returncode not in (0, 3):
        print(ref.stderr[-2000:])
        return 1
    reference = metrics(work / "reference")
    print(f"uninterrupted run: exit {ref.returncode}, {ref_s:.0f} s, keras accuracy "
          f"{reference['keras_accuracy']:.4f}", flush=True)

    rng = random.Random(args.seed)
    ok = i = 0
    full_s = ref_s  # how long a whole run takes now; the machine's load changes it
    while i < args.kills:
        i += 1
        run_dir = work / f"kill{i}"
        at = rng.uniform(2.0, full_s * 0.97)
        t_start = time.monotonic()
        proc = subprocess.Popen(cli(recipe, run_dir), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=at)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its benchmark worker, as a crash would
            proc.wait()
            killed = True
        if not killed:  # the run beat the kill: a draw that tested nothing; draw again, sooner
            full_s = time.monotonic() - t_start
            print(f"draw {at:.0f} s: the run finished first ({full_s:.0f} s); drawing again", flush=True)
            shutil.rmtree(run_dir)
            i -= 1
            continue
        before = done_stages(run_dir)
        stage = next((s for s in ("build", "train", "optimize", "convert", "evaluate", "benchmark", "report")
                      if s not in before), "-")
        partials = len(list(run_dir.rglob(".*.partial*"))) if run_dir.exists() else 0
        t1 = time.monotonic()
        res = subprocess.run(cli(recipe, run_dir), env=env(), capture_output=True, text=True)
        rerun = re.findall(r"^\[(\w+)\]$", res.stdout, flags=re.M)
        lost = [s for s in before if s in rerun]
        same = res.returncode in (0, 3) and metrics(run_dir) == reference
        leftover = list(run_dir.rglob(".*.partial*"))
        good = killed and same and not lost and not leftover and res.returncode == ref.returncode
        ok += good
        print(f"kill {i}: SIGKILL at {at:6.1f} s during '{stage}' (manifest had {len(before)} stage(s), "
              f"{partials} temp file(s) left); rerun exit {res.returncode} in {time.monotonic() - t1:.0f} s, "
              f"redid {rerun}; finished stages redone: {lost or 'none'}; metrics equal: {same}"
              + ("" if killed else "  [run ended before the kill]") + ("" if good else "  FAIL"), flush=True)
        if not same and res.returncode in (0, 3):
            print(f"  reference {reference}\n  resumed   {metrics(run_dir)}")
        if res.returncode not in (0, 3):
            print("  " + res.stderr.strip()[-1500:])
    print(f"{ok}/{args.kills} killed runs resumed to completion with metrics equal to the uninterrupted run")
    return 0 if ok == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
