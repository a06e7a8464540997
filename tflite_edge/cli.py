"""`tflite-edge` command line. Starts without importing TensorFlow; commands import what they need.

Exit codes: 0 ok, 1 failure, 2 invalid input, 3 a quality gate failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .bench import HOST_ENGINES, LITERT_TOOL, PROCESSES, WARMUP_MIN_S
from .errors import EdgeError, UserInputError


def _int_list(text: str):
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 1,2 (got {text!r})")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1 (got {text!r})")
    return values


def _count(text: str) -> int:
    values = _int_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one integer >= 1 (got {text!r})")
    return values[0]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, e.g. 0.5 (got {text!r})")
    if not 0.0 <= value <= 600.0:
        raise argparse.ArgumentTypeError(f"expected 0 to 600 seconds (got {text!r})")
    return value


def cmd_validate(args) -> int:
    from .recipe import load_recipe

    for path in args.recipes:
        r = load_recipe(path, args.set)
        print(f"{path}: ok ({r.model.name} on {r.data.dataset}, {len(r.optimize)} optimization(s), "
              f"formats {', '.join(r.convert.formats)})")
    return 0


def cmd_run(args) -> int:
    from .recipe import load_recipe

    recipe = load_recipe(args.recipe, args.set)
    out = Path(args.out) if args.out else Path("runs") / recipe.name
    from .run import run_recipe

    rep = run_recipe(recipe, out, from_stage=args.from_stage)
    print(f"report: {out / 'report.json'}  ({out / 'report.md'})")
    for a in rep["artifacts"]:
        host = a["benchmark"].get("host", {})
        p50 = host.get("latency_ms_p50")
        score = (f"mAP@.5 {a['map50']:.4f}" if rep.get("task") == "detection" else
                 f"acc {100 * a['accuracy']:.2f}%")
        print(f"  {a['name']:<32} {a['size_bytes']:>10,} B  {score}"
              + (f"  p50 {p50:.3f} ms" if p50 is not None else ""))
    return 0


def cmd_report(args) -> int:
    from .report_html import compare_runs, load_run_report, write_report_html

    if len(args.run_dirs) == 1 and args.out is None:
        rep = load_run_report(Path(args.run_dirs[0]))
        out = Path(args.run_dirs[0]) / "report.html"
        write_report_html(rep, out)
    else:
        out = compare_runs([Path(d) for d in args.run_dirs], Path(args.out or "compare.html"))
    print(f"report: {out}")
    return 0


def cmd_list(args) -> int:
    from .bench import TARGETS
    from .data import DATASETS
    from .export import CONVERTERS
    from .models import MODELS
    from .models.detection import DETECTORS

    for title, reg in (("models", MODELS), ("detectors", DETECTORS), ("datasets", DATASETS),
                       ("formats", CONVERTERS), ("targets", TARGETS)):
        print(f"{title}:")
        for name in reg.names():
            print(f"  {name:<20} {reg.meta(name).get('summary', '')}")
    return 0


def cmd_schema(args) -> int:
    from .recipe import Recipe

    print(json.dumps(Recipe.model_json_schema(), indent=2))
    return 0


def _calibration_from_dir(folder: Path, input_spec, limit: int):
    """Images under `folder` (any depth), preprocessed for the model, as one float array."""
    import numpy as np

    from .data import Dataset
    from .data.image_folder import EXTENSIONS
    from .data.pipeline import numpy_batches

    if not folder.is_dir():
        raise UserInputError(f"--calibration {folder}: folder not found")
    files = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)[:limit]
    if not files:
        raise UserInputError(f"--calibration {folder}: no .jpg/.png/.bmp/.gif images found")
    ds = Dataset(np.array(files), np.zeros(len(files), np.int64), [], np.zeros(0), ["_"], 3, None)
    ds.channels = 3 if input_spec.channels == 3 else 1
    return np.concatenate(list(numpy_batches(np.array(files), ds, input_spec)))


def cmd_convert(args) -> int:
    from .export import CONVERTERS, NEEDS_CALIBRATION, convert_formats, write_artifact
    from .model_io import load_keras_model
    from .models.classifier import InputSpec

    formats = [f for f in args.format.split(",") if f]
    for f in formats:
        CONVERTERS.get(f)
    model = load_keras_model(Path(args.model), trust_lambda=args.trust_lambda)
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4 or None in shape[1:]:
        raise UserInputError(f"{args.model}: expected one image input of static shape (H, W, C), got {shape}")
    spec = InputSpec(height=shape[1], width=shape[2], channels=shape[3], mean=args.mean, std=args.std)
    calibration = None
    if NEEDS_CALIBRATION & set(formats):
        if not args.calibration:
            raise UserInputError(f"--format {args.format}: integer formats need --calibration DIR "
                                 "(a folder of representative images)")
        calibration = _calibration_from_dir(Path(args.calibration), spec, args.calibration_samples)
    out = Path(args.out)
    for fmt, data in convert_formats(model, formats, calibration):
        path = out / f"{Path(args.model).stem}_{fmt}.tflite"
        info = write_artifact(data, path, fmt)
        print(json.dumps({"path": str(path), **info}))
    return 0


def cmd_bench(args) -> int:
    from .bench import BenchOptions, run_targets
    from .bench.host import check_tflite_file

    options = BenchOptions(threads=tuple(args.threads), runs=args.runs, warmup=args.warmup,
                           warmup_min_s=args.warmup_min_secs, processes=args.processes,
                           delegates=tuple(d for d in args.delegates.split(",") if d),
                           android_binary=args.benchmark_binary, engine=args.engine)

    results, failed = [], set()
    for model in args.models:
        check_tflite_file(Path(model))
    for model in args.models:
        for target, records in run_targets(args.target, Path(model), options).items():
            if isinstance(records, EdgeError):  # one target failing does not stop the others
                failed.add(records.exit_code)
                results.append({"model": model, "target": target, "error": str(records)})
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
    return max(failed, default=0)


def _floats(text: str):
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 127.5 or 123.7,116.3,103.5 "
                                         f"(got {text!r})")
    if not values or not all(abs(v) < float("inf") for v in values):  # nan fails this too
        raise argparse.ArgumentTypeError(f"expected finite numbers (got {text!r})")
    return values


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1 (got {text!r})")
    return value


def cmd_predict(args) -> int:
    from .predict import format_text, predict

    result = predict(Path(args.model), [Path(p) for p in args.inputs], top_k=args.top_k,
                     threshold=args.threshold, out=Path(args.out) if args.out else None,
                     labels=Path(args.labels) if args.labels else None, mean=args.mean, std=args.std,
                     raw=args.raw)
    print(json.dumps(result, indent=2) if args.json else format_text(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tflite-edge", description="From a YAML recipe to a small, fast, "
                                 "validated TFLite model for edge devices.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check recipes without running anything")
    p.add_argument("recipes", nargs="+")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a recipe: build, train, optimize, convert, evaluate, benchmark")
    p.add_argument("recipe")
    p.add_argument("--out", help="run directory (default runs/NAME); rerunning resumes it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.epochs=3")
    p.add_argument("--from", dest="from_stage", metavar="STAGE", help="redo STAGE and the stages after it")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="render report.html of a run, or compare runs side by side")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html for one run, "
                   "compare.html for several)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("list", help="registered models, datasets, formats and targets")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("schema", help="print the recipe JSON Schema (for editor completion)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("convert", help="convert your own Keras model (.keras/.h5) to TFLite")
    p.add_argument("model")
    p.add_argument("--format", required=True, help="one or more, comma-separated: float32,int8,...")
    p.add_argument("--calibration", help="folder of representative images (integer formats)")
    p.add_argument("--calibration-samples", type=int, default=200)
    p.add_argument("--mean", type=float, default=127.5, help="input normalisation: (x - mean) / std")
    p.add_argument("--std", type=float, default=127.5)
    p.add_argument("--trust-lambda", action="store_true", help="allow Lambda layers (they run code)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("bench", help="benchmark .tflite models on a target")
    p.add_argument("models", nargs="+")
    p.add_argument("--target", action="append", default=None,
                   help="host (default), android[:SERIAL], ssh:USER@HOST, coral[:DEVICE]; repeatable")
    p.add_argument("--threads", type=_int_list, default=[1])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--warmup-min-secs", type=_seconds, default=WARMUP_MIN_S,
                   help=f"warm up for at least this long too (default {WARMUP_MIN_S} s, as benchmark_model)")
    p.add_argument("--processes", type=_count, default=PROCESSES,
                   help=f"host, ssh: spread --runs over up to this many fresh processes, pooled (default {PROCESSES})")
    p.add_argument("--engine", choices=HOST_ENGINES, default=LITERT_TOOL,
                   help="host: who times it: benchmark_litert_model (LiteRT's tool; falls back to python_worker, "
                   "saying why) or python_worker")
    p.add_argument("--delegates", default="xnnpack", help="android: comma-separated xnnpack,gpu,nnapi")
    p.add_argument("--benchmark-binary", default=os.environ.get("TFLITE_EDGE_BENCHMARK_MODEL"),
                   help="android: LiteRT benchmark_model binary (env TFLITE_EDGE_BENCHMARK_MODEL)")
    p.add_argument("--json", action="store_true", help="print the report.json benchmark fields")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("predict", help="run a .tflite model (or an early-exit cascade: its cascade.json) on "
                       "images with the labels and normalisation of its metadata")
    p.add_argument("model", metavar="MODEL.tflite|cascade.json")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--top-k", type=_count, default=5, metavar="K",
                   help="classification: labels shown per image (default 5)")
    p.add_argument("--threshold", type=_fraction, default=0.5, metavar="T",
                   help="detection: keep boxes scoring at least this (default 0.5)")
    p.add_argument("--out", metavar="DIR", help="detection: write IMAGE_boxes.png with the boxes drawn here")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.add_argument("--labels", metavar="FILE", help="one label per line (models without metadata; overrides it)")
    p.add_argument("--mean", type=_floats, metavar="M", help="input normalisation (pixel - mean) / std "
                   "from 0..255: one value or one per channel (models without metadata; overrides it)")
    p.add_argument("--std", type=_floats, metavar="S")
    p.add_argument("--raw", action="store_true", help="feed 0..255 pixels unnormalised (models without metadata)")
    p.set_defaults(func=cmd_predict)

    _register_commands(sub)
    return ap


def _register_commands(sub) -> None:
    from .commands import edgetpu

    edgetpu.register(sub)


def one_line(text: str) -> str:
    """An error message as one terminal line: line breaks and control characters escaped.

    A recipe value may hold any character (YAML allows \x1e, \u2028 ...); echoed raw, those
    split the message over lines or garble the terminal.
    """
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))


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


if __name__ == "__main__":
    sys.exit(main())
