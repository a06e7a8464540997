"""`tflite-edge` command line. Starts without importing TensorFlow; commands import what they need.

Each subcommand is a module of `commands/` with `register(subparsers)` (its flags) and `run(args)`.
Exit codes: 0 ok, 1 failure, 2 invalid input, 3 a quality gate failed.
"""
from __future__ import annotations

import argparse
import os
import sys

from .commands import bench, convert, edgetpu, list as list_, predict, report, run, schema, validate
from .errors import EdgeError, one_line
from .version import package_version

# In the order `tflite-edge --help` lists them.
COMMANDS = (validate, run, report, list_, schema, convert, bench, predict, edgetpu)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tflite-edge", description="From a YAML recipe to a small, fast, "
                                 "validated TFLite model for edge devices.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "target", "unset") is None:
        args.target = ["host"]
    try:
        return args.func(args)
    except EdgeError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as e:  # a bug of ours: one line, the traceback on request
        from .disk import full_error, is_full

        if is_full(e):  # a write outside atomic.py (TensorBoard, TensorFlow's own files)
            err = full_error(getattr(e, "filename", None))
            print(f"error: {one_line(err)}", file=sys.stderr)
            return err.exit_code
        if os.environ.get("TFLITE_EDGE_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {one_line(e)} (set TFLITE_EDGE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def _closed_pipe() -> int:
    """The reader went away (`tflite-edge schema | head -1`): stop quietly, as cat does. Python
    would report the failed flush of stdout at exit, so stdout is pointed at /dev/null first."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a command stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
