"""Compare two report.json files apart from what a rerun may change: timings and the host's state.

Every key must be present in both; values must be equal except where the key is a measurement of
time, memory or the machine's load (latency, *_ms, seconds, memory, cpu_busy, steal, warm-up count).
Used to check that a reorganisation changed no behaviour (issue 21):

    python benchmarks/compare_reports.py runs/before/report.json runs/after/report.json
"""
from __future__ import annotations

import json
import re
import sys

VOLATILE = re.compile(r"(latency|_ms$|_ms_|seconds|memory_mb|cpu_busy|steal_percent|warmup_invocations|speedup)")


def differences(a, b, where: str = "") -> list:
    """Paths where `a` and `b` differ (a volatile key's value is not compared, its presence is)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: only in {'the first' if k in a else 'the second'}" for k in sorted(set(a) ^ set(b))]
        for k in a.keys() & b.keys():
            if not VOLATILE.search(k):
                out += differences(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} against {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    first, second = (json.loads(open(p).read()) for p in argv)
    diffs = differences(first, second)
    for d in diffs:
        print(d)
    print(f"{len(diffs)} difference(s) apart from timings")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
