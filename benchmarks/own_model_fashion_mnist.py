"""Bring your own model: a MobileNetV2 trained by a plain tf_keras script outside the toolkit goes
through a recipe with `model.path`, 50% pruning and QAT; int8 accuracy against the user's model.

    .venv/bin/python benchmarks/own_model_fashion_mnist.py [--out DIR] [--train-samples 20000]
        [--test-samples 0] [--user-epochs 8] [--bn-momentum 0.9] [--prune-epochs 3] [--prune-lr 0.0005]
        [--qat-epochs 2] [--qat-lr 0.0001] [--max-drop 1.0]

Part A (the "user") runs in its own Python process that never imports tflite_edge: it reads the
Fashion-MNIST IDX .gz files with gzip/numpy, preprocesses them as the toolkit does (float pixels,
bilinear resize 28 -> 32, (x - 127.5) / 127.5, one grey channel), trains
`tf_keras.applications.MobileNetV2(alpha=0.35, input_shape=(32, 32, 1), weights=None, classes=10)`
(its BatchNorm momentum set to --bn-momentum through get_config/from_config: see user_train) on the
first --train-samples training images and saves it as user_model.keras.
Part B runs a recipe with `model: {path: user_model.keras}`, `prune: {sparsity: 0.5}` then `qat`,
formats float32 and int8, through the Python API up to `evaluate` (the benchmark stage is not run),
and reads the accuracies from the run's manifest.json. Test split: the standard 10,000 images
(--test-samples N: the first N). Writes benchmarks/results/own_model_fashion_mnist.txt.
Rerunnable: an existing user_model.keras and run directory under --out are reused (resumed).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = "/usr/share/datasets/fashion-mnist"
SIZE = 32


# ---------------------------------------------------------------- Part A: the user's own script
def read_idx_gz(path: str, limit=None):
    """The user's reader: IDX magic, dims, then uint8 data (no tflite_edge)."""
    import gzip
    import struct

    import numpy as np

    with gzip.open(path, "rb") as f:
        _, _, ndim = struct.unpack(">HBB", f.read(4))
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        n = dims[0] if limit is None else min(limit, dims[0])
        count = n * int(np.prod(dims[1:]))
        return np.frombuffer(f.read(count), np.uint8).reshape((n,) + tuple(dims[1:]))


def user_train(out_file: str, train_samples: int, test_samples, epochs: int, bn_momentum: float,
               seed: int = 0) -> None:
    """Plain tf_keras: what a user outside the toolkit writes. Prints its own test accuracy."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    assert "tflite_edge" not in sys.modules
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    def prep(x):  # uint8 (N, 28, 28) -> float32 (N, 32, 32, 1), as the toolkit's pipeline does
        x = tf.cast(x[..., None], tf.float32)
        x = tf.image.resize(x, (SIZE, SIZE), method="bilinear")
        return ((x - 127.5) / 127.5).numpy()

    tx = prep(read_idx_gz(f"{DATA}/train-images-idx3-ubyte.gz", train_samples))
    ty = read_idx_gz(f"{DATA}/train-labels-idx1-ubyte.gz", train_samples).astype(np.int64)
    vx = prep(read_idx_gz(f"{DATA}/t10k-images-idx3-ubyte.gz", test_samples))
    vy = read_idx_gz(f"{DATA}/t10k-labels-idx1-ubyte.gz", test_samples).astype(np.int64)
    model = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 1), alpha=0.35, weights=None,
                                           include_top=True, classes=10)
    # The applications' BatchNorm momentum (0.999) suits long ImageNet runs; after 8 short epochs its
    # moving statistics still lag the weights: trained so, this model scored 89% on its training
    # batches and 10% (chance) on the test split in inference mode (85% with batch statistics).
    # A user training briefly lowers it; the layers stay those of the standard MobileNetV2.
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = bn_momentum
    model = keras.Model.from_config(config)
    steps = epochs * int(np.ceil(len(ty) / 64))
    lr = keras.optimizers.schedules.CosineDecay(1e-3, steps)
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(tx, ty, batch_size=64, epochs=epochs, verbose=2, shuffle=True)
    _, acc = model.evaluate(vx, vy, batch_size=256, verbose=0)
    print(f"USER_TEST_ACCURACY {acc:.6f}", flush=True)
    model.save(out_file)


# ---------------------------------------------------------------- Part B: the toolkit
def recipe_dict(args, model_file: Path) -> dict:
    return {
        "name": "own_model_fashion_mnist",
        "seed": 0,
        "data": {"dataset": "fashion_mnist", "path": DATA, "train_samples": args.train_samples,
                 "test_samples": args.test_samples or None, "batch_size": 64,
                 # the user trained without augmentation; the fine-tunes do the same
                 "augment": {"flip": False, "translate": 0.0}},
        "model": {"path": str(model_file)},
        "train": {"tensorboard": False},
        "optimize": [{"prune": {"sparsity": 0.5, "epochs": args.prune_epochs, "learning_rate": args.prune_lr}},
                     {"qat": {"epochs": args.qat_epochs, "learning_rate": args.qat_lr}}],
        "convert": {"formats": ["float32", "int8"], "calibration_samples": 200},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="run directories (default: a new temporary directory)")
    ap.add_argument("--train-samples", type=int, default=20000, help="first N Fashion-MNIST training images")
    ap.add_argument("--test-samples", type=int, default=0, help="first N test images; 0: all 10,000")
    ap.add_argument("--user-epochs", type=int, default=8, help="epochs of the user's own training")
    ap.add_argument("--bn-momentum", type=float, default=0.9,
                    help="BatchNorm momentum of the user's model (the applications' default 0.999 gave a "
                         "chance-level model after 8 epochs)")
    ap.add_argument("--prune-epochs", type=int, default=3)
    ap.add_argument("--prune-lr", type=float, default=0.0005)
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--qat-lr", type=float, default=0.0001)
    ap.add_argument("--max-drop", type=float, default=1.0, help="the figure: int8 drop vs the user's model, points")
    ap.add_argument("--user-only", metavar="FILE", help=argparse.SUPPRESS)  # Part A, in its own process
    args = ap.parse_args()
    if args.user_only:
        user_train(args.user_only, args.train_samples, args.test_samples or None, args.user_epochs,
                   args.bn_momentum)
        return
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:])
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="own_model_"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    # Part A: the user's model, trained in a process that never imports tflite_edge
    model_file = base / "user_model.keras"
    user_acc = None
    if not model_file.exists():
        cmd = [sys.executable, str(Path(__file__).resolve()), "--user-only", str(model_file),
               "--train-samples", str(args.train_samples), "--test-samples", str(args.test_samples),
               "--user-epochs", str(args.user_epochs), "--bn-momentum", str(args.bn_momentum)]
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        (base / "user_stdout.txt").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit(f"user training failed ({proc.returncode})")
        print("\n".join(l for l in proc.stdout.splitlines() if "accuracy" in l), flush=True)
    for line in (base / "user_stdout.txt").read_text().splitlines():
        if line.startswith("USER_TEST_ACCURACY"):
            user_acc = float(line.split()[1])
    t_user = time.monotonic() - t0

    # Part B: the toolkit, up to evaluate (the benchmark stage is not used)
    from tflite_edge.recipe import validate_dict
    from tflite_edge.run import run_recipe

    recipe = validate_dict(recipe_dict(args, model_file.resolve()))
    run_dir = base / "run"
    run_recipe(recipe, run_dir, log=print, until="evaluate")
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    source = stages["build"]["outputs"]["source_model"]["accuracy"]
    steps = {s["name"]: s for s in stages["optimize"]["outputs"]["steps"]}
    ev = stages["evaluate"]["outputs"]
    arts = {a["format"]: a for a in ev["artifacts"]}
    drop = 100 * (source - arts["int8"]["accuracy"])
    met = drop <= args.max_drop

    n_test = ev["keras"]["test_samples"]
    rows = [("user's model, its own script (tf_keras evaluate)", user_acc),
            ("user's model in the toolkit (source_model)", source),
            (f"after prune 50% (sparsity {steps['prune']['sparsity']:.3f})", steps["prune"]["accuracy"]),
            ("after QAT: Keras (evaluate)", ev["keras"]["accuracy"]),
            ("float32 .tflite", arts["float32"]["accuracy"]),
            ("int8 .tflite", arts["int8"]["accuracy"])]
    text = (f"$ {command}\n"
            f"user model: tf_keras.applications.MobileNetV2(alpha=0.35, input 32x32x1, weights=None, "
            f"classes=10), {args.train_samples} Fashion-MNIST training images, {args.user_epochs} epochs, "
            f"Adam 1e-3 cosine, batch 64, no augmentation, BatchNorm momentum {args.bn_momentum}\n"
            f"recipe: model.path, prune sparsity 0.5 ({args.prune_epochs} epochs, lr {args.prune_lr}) -> "
            f"qat ({args.qat_epochs} epochs, lr {args.qat_lr}); formats float32, int8; test split "
            f"{n_test} images\n\n"
            f"{'model':<58} {'test accuracy':>13}\n"
            + "".join(f"{name:<58} {'-' if acc is None else f'{100 * acc:.2f}%':>13}\n" for name, acc in rows)
            + f"\nint8 drop vs the user's model (source_model - int8): {drop:+.2f} points "
              f"(figure: <= {args.max_drop:.1f}): {'met' if met else 'not met'}\n"
            f"int8 agreement with the QAT Keras model: {100 * arts['int8']['agreement_with_keras']:.2f}%\n"
            f"wall time: {time.monotonic() - t0:.0f} s (user training {t_user:.0f} s); run directory {run_dir}\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "own_model_fashion_mnist.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
