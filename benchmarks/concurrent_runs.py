"""Issue 24's figure: two runs on one run directory. The second must exit 2 at once (within 5 s),
naming the directory and the first run's pid, at whatever stage the first run is; the first run
must finish as if alone.

    .venv/bin/python benchmarks/concurrent_runs.py [--tries 5] [--work /tmp/concurrent_runs] [--set KEY=VALUE]

Starts `tflite-edge run recipes/quickstart.yaml --out WORK/run` (by default with 4 epochs, to be
quick), waits until it holds the lock, then every few seconds starts the same command again on
the same directory, --tries times, recording each one's exit status, seconds and message and the
first run's stage at the time. Then waits for the first run and checks it finished (exit 0) and
that only it wrote the report. Exit status 0 only if every second run was refused in time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "quickstart.yaml"


def stage_of(run_dir: Path) -> str:
    try:
        done = [s for s, e in json.loads((run_dir / "manifest.json").read_text())["stages"].items() if e.get("done")]
    except (OSError, ValueError):
        done = []
    return f"after {done[-1]}" if done else "in the first stage"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--every", type=float, default=15.0, help="seconds between second runs")
    ap.add_argument("--work", default="/tmp/concurrent_runs")
    ap.add_argument("--set", action="append", default=None, metavar="KEY=VALUE")
    args = ap.parse_args()
    sets = args.set if args.set is not None else ["train.epochs=4"]
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run_dir = work / "run"
    cmd = [sys.executable, "-m", "tflite_edge.cli", "run", str(RECIPE), "--out", str(run_dir),
           *[x for kv in sets for x in ("--set", kv)]]
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    t_start = time.monotonic()
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lock = run_dir / "run.lock"
    while not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.05)
    print(f"first run: pid {first.pid}, lock held after {time.monotonic() - t_start:.2f} s ({' '.join(sets)})")
    ok = True
    for i in range(args.tries):
        if first.poll() is not None:
            print(f"the first run ended before try {i + 1}")
            break
        where = stage_of(run_dir)
        t0 = time.monotonic()
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - t0
        refused = (second.returncode == 2 and f"pid {first.pid}" in second.stderr and str(run_dir) in second.stderr
                   and seconds < 5)
        ok &= refused
        print(f"try {i + 1}: first run {where}; second run exit {second.returncode} in {seconds:.2f} s: "
              f"{second.stderr.strip()}")
        time.sleep(args.every)
    out, _ = first.communicate()
    report = run_dir / "report.json"
    finished = first.returncode == 0 and report.exists() and "report:" in out
    ok &= finished
    print(f"first run: exit {first.returncode} after {time.monotonic() - t_start:.0f} s; report written: "
          f"{report.exists()}; lock file now: {lock.read_text()!r}")
    print("all second runs refused within 5 s, first run unaffected" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
