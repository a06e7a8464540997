"""Is a slow benchmark a slow process or a slow moment? One process, p50 per half-second window.

    .venv/bin/python benchmarks/host_time_windows.py MODEL.tflite [--processes 6] [--windows 16]

Each process warms up for 0.5 s, then invokes the model back to back for `windows` x 0.5 s and
prints the median latency of each window. If windows inside one process flip between two values,
the slow mode comes from outside the process (other guests on the host), not from its memory layout.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import sys, time
import numpy as np
from tflite_edge.runtime import make_interpreter, random_inputs
interp, _ = make_interpreter(sys.argv[1], 1)
for d, v in zip(interp.get_input_details(), random_inputs(interp)):
    interp.set_tensor(d["index"], v)
end = time.perf_counter() + 0.5
while time.perf_counter() < end:
    interp.invoke()
medians = []
for _ in range(int(sys.argv[2])):
    times, end = [], time.perf_counter() + 0.5
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns(); interp.invoke(); times.append((time.perf_counter_ns() - t0) / 1e6)
    medians.append(float(np.median(times)))
print(" ".join(f"{m:.3f}" for m in medians))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--processes", type=int, default=6)
    ap.add_argument("--windows", type=int, default=16)
    args = ap.parse_args()
    print(f"p50 (ms) per 0.5 s window, 1 thread; one line per fresh process")
    for _ in range(args.processes):
        out = subprocess.run([sys.executable, "-c", CHILD, args.model, str(args.windows)],
                             capture_output=True, text=True, check=True).stdout
        print(out.strip(), flush=True)


if __name__ == "__main__":
    main()
