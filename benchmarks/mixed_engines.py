"""Which engine gives the better mixed-precision artifacts: ai-edge-quantizer or the TFLite converter's denylist.

    .venv/bin/python benchmarks/mixed_engines.py RUN_DIR [--ops HARD_SWISH,SOFTMAX] [--rounds 5] [--runs 300]

RUN_DIR is a finished run (its recipe, optimized Keras model and float32 artifact are read). Four
artifacts of the same model, made here:
  converter int8        TFLiteConverter full int8 (what the `int8` format writes)
  aeq int8              ai-edge-quantizer, every op static int8 (float I/O kept, as convert.mixed does)
  converter denylist    TFLiteConverter + QuantizationDebugger(denylisted_ops=--ops): int8 with
                        those op types float (TFLite's own per-op mechanism)
  aeq float ops         ai-edge-quantizer, int8 with the --ops op types left float
Each is scored on the run's test split (top-1 against the labels) and timed on the host in
--rounds interleaved rounds (`tflite-edge bench`, LiteRT's benchmark tool); printed: accuracy,
median p50, op counts (QUANTIZE/DEQUANTIZE boundaries) and XNNPACK partitions.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_cli import interleaved_p50  # benchmarks/bench_cli.py (scripts run from this folder)

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--ops", default="HARD_SWISH,SOFTMAX")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    run_dir = Path(args.run_dir)
    float_ops = [o for o in args.ops.split(",") if o]

    import numpy as np

    from tflite_edge import compat
    from tflite_edge.data.pipeline import numpy_batches
    from tflite_edge.export import Export
    from tflite_edge.mixed.engine import MixedQuantizer, units_of
    from tflite_edge.recipe import load_recipe
    from tflite_edge.run import RunContext, _load_manifest
    from tflite_edge.runtime import make_interpreter, predict_classes
    from tflite_edge.tasks.classification.data import calibration_images

    recipe = load_recipe(run_dir / "recipe.yaml")
    ctx = RunContext(recipe, run_dir, _load_manifest(run_dir), log=lambda *a: None)
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    calib = calibration_images(ctx)
    float_art = next(a for a in ctx.outputs("convert")["artifacts"] if a["format"] == "float32")
    float_bytes = (run_dir / float_art["path"]).read_bytes()
    tf = compat.tf()
    out = Path(tempfile.mkdtemp(prefix="mixed_engines_"))
    made = {}

    with Export(model, model.input_shape[1:]) as export:
        made["converter int8"] = export.convert("int8", calib)

        conv = tf.lite.TFLiteConverter.from_saved_model(export.folder)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[None].astype(np.float32)] for x in calib)
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=float_ops)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=lambda: ([x[None].astype(np.float32)] for x in calib[:50]),
            debug_options=options)
        made["converter denylist"] = debugger.get_nondebug_quantized_model()
    units = units_of(float_bytes, "block")
    q = MixedQuantizer(float_bytes, units, calib)
    made["aeq int8"] = q.quantize({u.name: "int8" for u in units})
    made["aeq float ops"] = q.quantize({u.name: "int8" for u in units}, frozenset(float_ops))

    d = ctx.dataset
    labels = np.asarray(d.test_y)
    rows = {}
    for name, data in made.items():
        path = out / (name.replace(" ", "_") + ".tflite")
        path.write_bytes(bytes(data))
        interp, _ = make_interpreter(str(path), 1)
        pred = predict_classes(interp, numpy_batches(d.test_x, d, ctx.input_spec), str(path), 1)
        ops = [o["op_name"] for o in interp._get_ops_details()]
        rows[name] = {"path": path, "accuracy": float(np.mean(pred == labels)), "ops": len(ops) - ops.count("DELEGATE"),
                      "partitions": ops.count("DELEGATE"), "q_dq": ops.count("QUANTIZE") + ops.count("DEQUANTIZE"),
                      "size_bytes": len(data), "p50": []}
    for name, p50 in interleaved_p50({k: v["path"] for k, v in rows.items()}, args.rounds, args.runs).items():
        rows[name]["p50"] = p50
    print(f"run: {run_dir}; op types kept float: {float_ops}; {args.rounds} interleaved rounds of {args.runs} runs")
    for name, r in rows.items():
        print(f"  {name:<20} acc {100 * r['accuracy']:.2f}%  p50 {statistics.median(r['p50']):.4f} ms  "
              f"ops {r['ops']} (QUANTIZE/DEQUANTIZE {r['q_dq']})  XNNPACK partitions {r['partitions']}  "
              f"{r['size_bytes']:,} B  rounds {', '.join(f'{x:.4f}' for x in r['p50'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
