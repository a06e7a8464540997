"""`tflite-edge edgetpu check|compile`: predict the Edge TPU mapping; run the real compiler.

Nothing heavy is imported here: the checker reads flatbuffers without TensorFlow, and TensorFlow
starts only when `--keras` asks for the Keras model.

    tflite-edge edgetpu check model_int8.tflite --keras model.keras
    tflite-edge edgetpu compile model_int8.tflite -o out/ -n 2 --json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add `edgetpu` with its `check` and `compile` subcommands to an argparse subparsers."""
    parser = subparsers.add_parser("edgetpu", help="Edge TPU: check a model before compiling; compile it",
                                   description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="edgetpu_command", metavar="{check,compile}")
    sub.required = True
    _register_check(sub)
    _register_compile(sub)


def _register_check(sub) -> None:
    p = sub.add_parser("check", help="predict which operations run on the Edge TPU, why not, what to fix")
    p.add_argument("model", type=Path, help="the .tflite model (full-integer quantized)")
    p.add_argument("--keras", type=Path, default=None, metavar="MODEL",
                   help="the Keras model it came from (.keras/.h5/SavedModel) to name layers exactly")
    p.add_argument("--ops", action="store_true", help="list every operation with its status first")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_check)


def _register_compile(sub) -> None:
    p = sub.add_parser("compile", help="run edgetpu_compiler -s (x86-64 Linux) and parse its log")
    p.add_argument("model", type=Path, help="the .tflite model (full-integer quantized)")
    p.add_argument("-o", "--out-dir", type=Path, default=Path("."), help="where the _edgetpu.tflite goes")
    p.add_argument("-n", "--num-segments", type=int, default=None,
                   help="split into N segments for pipelining over N Edge TPUs")
    p.add_argument("-i", "--intermediate-tensors", default=None, metavar="T1,T2",
                   help="comma-separated tensor names where the TPU graph ends")
    p.add_argument("-d", "--search-delegate", action="store_true",
                   help="search for the largest subgraph that compiles")
    p.add_argument("-k", "--delegate-search-step", type=int, default=None, metavar="STEP",
                   help="ops removed per search step (with -d)")
    p.add_argument("--no-check", action="store_true", help="skip the pre-compile check gate")
    p.add_argument("--timeout", type=int, default=600, help="seconds before the compiler is stopped")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_compile)


def run_check(args) -> int:
    """Exit 0 when every operation maps, 1 when some run on the CPU or it cannot compile."""
    from ..edgetpu import check_model

    report = check_model(args.model, args.keras)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from ..edgetpu.report_text import check_text

        print("\n".join(check_text(report, ops=args.ops)))
    return 0 if report["verdict"] == "all_on_tpu" else 1


def run_compile(args) -> int:
    """Gate on the checker (a model that cannot compile is refused), then run the compiler."""
    from ..edgetpu import check_model, compile_model
    from ..errors import UserInputError

    if not args.no_check:
        report = check_model(args.model)
        if report["verdict"] == "not_compilable":
            raise UserInputError(f"{args.model}: {report['summary']} (run `tflite-edge edgetpu check "
                                 f"{args.model}` for details, or pass --no-check)")
    tensors = [t for t in (args.intermediate_tensors or "").split(",") if t.strip()]
    result = compile_model(args.model, args.out_dir, num_segments=args.num_segments,
                           intermediate_tensors=tensors or None, search_delegate=args.search_delegate,
                           delegate_search_step=args.delegate_search_step, timeout_s=args.timeout)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "log"}, indent=2))
    else:
        _print_compile(result)
    return 0 if result.get("compiled") else 1


def _console():
    from rich.console import Console

    return Console(file=sys.stdout)


def _status_style(status: str) -> str:
    from ..edgetpu import MAPPED, PARTITIONED

    return "green" if status == MAPPED else "yellow" if status == PARTITIONED else "red"


def _print_compile(result: dict) -> None:
    from rich.table import Table

    console = _console()
    if result.get("ops"):
        table = Table(title="edgetpu_compiler")
        for column in ("Operator", "Count", "Status"):
            table.add_column(column)
        for row in result["ops"]:
            table.add_row(row["op"], str(row["count"]), f"[{_status_style(row['status'])}]{row['status']}[/]")
        console.print(table)
    for key in ("compiler_version", "output_model", "ops_on_tpu", "ops_on_cpu", "edgetpu_subgraphs",
                "on_chip_memory_used_bytes", "off_chip_memory_used_bytes"):
        if result.get(key) is not None:
            console.print(f"{key}: {result[key]}", highlight=False)
    for error in result.get("errors", []):
        console.print(f"[red]{error}[/]", highlight=False)
    console.print("compiled" if result.get("compiled") else "[red]compilation failed[/]")
