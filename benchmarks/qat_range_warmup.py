"""QAT range warm-up: accuracy of a QAT-wrapped model, untrained, with and without the warm-up.

    python benchmarks/qat_range_warmup.py RUN_DIR [--steps 0,50,200]

RUN_DIR is a finished run of recipes/fashion_mnist_compress.yaml (its checkpoints/trained.keras is
wrapped for QAT with tfmot's default scheme). Each line: warm-up steps, the range variables set,
seconds, Keras accuracy of the QAT model on the whole test split (no fine-tuning at all).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--steps", default="0,50,200")
    args = ap.parse_args()
    from tflite_edge.model_io import load_keras_model
    from tflite_edge.data import load_dataset
    from tflite_edge.optimize.qat import warm_up_ranges, wrap_qat
    from tflite_edge.recipe import QatSpec, load_recipe

    run = Path(args.run_dir)
    r = load_recipe(run / "recipe.yaml")
    d = load_dataset(r.data, r.seed)

    def prep(x):
        return (np.asarray(x, np.float32).reshape(-1, 28, 28, 1) - 127.5) / 127.5

    xt, yt, cal = prep(d.test_x), np.asarray(d.test_y), prep(d.train_x[:r.convert.calibration_samples])
    model = load_keras_model(run / "checkpoints" / "trained.keras")

    def acc(m):
        return float(np.mean(np.argmax(m.predict(xt, batch_size=256, verbose=0), -1) == yt))

    print(f"float Keras accuracy {acc(model):.4f}")
    for steps in (int(s) for s in args.steps.split(",")):
        q, _ = wrap_qat(model, QatSpec(), "qat", [])
        t0 = time.time()
        n = warm_up_ranges(q, cal, steps, r.data.batch_size)
        print(f"warm-up steps {steps:>4}: {n} ranges set in {time.time() - t0:.1f} s, QAT model accuracy "
              f"{acc(q):.4f} (no fine-tuning)", flush=True)


if __name__ == "__main__":
    main()
