"""Issue 22: our MobileNetV3-Small's hard-swish, the old five-op form against the fused HARD_SWISH builtin.

    .venv/bin/python benchmarks/hard_swish_forms.py [--size 56] [--rounds 5] [--runs 300] [--out DIR]

Builds `mobilenet_v3_small` (activation hard_swish, width 1.0, 10 classes, --size px) twice with
the same weights: with the hard-sigmoid written as before issue 22 (Rescaling(1/6, offset 0.5) then
ReLU(max 1): MUL, ADD, MINIMUM, RELU and the MUL of hard-swish) and as now (Rescaling(1, offset 3),
ReLU6, Rescaling(1/6): the converter fuses x * that into HARD_SWISH). Converts both to float32 and
int8 (random calibration images: latency does not depend on training), counts the ops, the
HARD_SWISH ops and the XNNPACK partitions, and times the four artifacts on the host in --rounds
interleaved rounds with `tflite-edge bench` (median p50 printed). Weights are random: this times
the graph, not accuracy.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from bench_cli import interleaved_p50  # benchmarks/bench_cli.py (scripts run from this folder)

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def old_hard_sigmoid(x, name: str):
    from tflite_edge import compat

    L = compat.keras().layers
    x = L.Rescaling(1.0 / 6.0, offset=0.5, name=f"{name}_hsig_scale")(x)
    return L.ReLU(max_value=1.0, name=f"{name}_hsig")(x)




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--out", default="runs/hard_swish_forms")
    args = ap.parse_args()
    import numpy as np

    from tflite_edge import compat
    from tflite_edge.export import convert_keras
    from tflite_edge.models import build_classifier, layers
    from tflite_edge.models.classifier import InputSpec
    from tflite_edge.recipe import ModelSpec
    from tflite_edge.runtime import make_interpreter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = ModelSpec(name="mobilenet_v3_small", width=1.0, activation="hard_swish")
    ispec = InputSpec(args.size, args.size, 1)
    calib = np.random.default_rng(0).uniform(-1, 1, (100, args.size, args.size, 1)).astype(np.float32)
    fused = layers.hard_sigmoid
    compat.keras().utils.set_random_seed(0)
    new_model = build_classifier(spec, ispec, 10)
    layers.hard_sigmoid = old_hard_sigmoid
    try:
        old_model = build_classifier(spec, ispec, 10)
    finally:
        layers.hard_sigmoid = fused
    old_model.set_weights(new_model.get_weights())  # activation layers hold no weights: same order
    x = calib[:8]
    diff = float(np.abs(old_model.predict(x, verbose=0) - new_model.predict(x, verbose=0)).max())
    paths = {}
    for form, model in (("old five-op", old_model), ("fused", new_model)):
        for fmt in ("float32", "int8"):
            path = out / f"{form.split()[0]}_{fmt}.tflite"
            path.write_bytes(convert_keras(model, fmt, calib))
            interp, _ = make_interpreter(str(path), 1)
            ops = [o["op_name"] for o in interp._get_ops_details()]
            paths[(form, fmt)] = {"path": path, "ops": len(ops) - ops.count("DELEGATE"),
                                  "hard_swish": ops.count("HARD_SWISH"), "partitions": ops.count("DELEGATE"),
                                  "p50": []}
    for key, p50 in interleaved_p50({k: v["path"] for k, v in paths.items()}, args.rounds, args.runs).items():
        paths[key]["p50"] = p50
    print(f"mobilenet_v3_small hard_swish, {args.size} px, 10 classes, random weights; max |old - fused| Keras "
          f"output difference {diff:.2e}; {args.rounds} interleaved rounds of {args.runs} runs (tflite-edge bench)")
    for (form, fmt), r in paths.items():
        print(f"  {form:<12} {fmt:<8} ops {r['ops']:>4}  HARD_SWISH {r['hard_swish']:>3}  XNNPACK partitions "
              f"{r['partitions']:>3}  p50 {statistics.median(r['p50']):.4f} ms  rounds "
              f"{', '.join(f'{v:.4f}' for v in r['p50'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
