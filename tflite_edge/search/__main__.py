"""`python -m tflite_edge.search worker RUN_DIR`: a keras-tuner worker for a run's `search` stage."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EdgeError, one_line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tflite_edge.search",
                                     description="keras-tuner worker for a run's `search` stage")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run trials for the chief (KERASTUNER_* variables set)")
    w.add_argument("run_dir", type=Path, help="the chief's run directory (--out of its run)")
    w.add_argument("--connect-timeout", type=float, default=120.0, help="seconds to wait for the chief")
    args = parser.parse_args(argv)
    try:
        from .stage import run_worker

        run_worker(args.run_dir, args.connect_timeout)
    except EdgeError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
