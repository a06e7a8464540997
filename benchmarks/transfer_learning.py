"""Transfer learning: a MobileNetV2 0.35 backbone pretrained on Fashion-MNIST, fine-tuned on 500 real
handwritten digits, against the same backbone from random weights at equal epochs, 3 seeds.

    .venv/bin/python benchmarks/transfer_learning.py [--out DIR] [--seeds 0 1 2]
        [--pretrain-samples 15000] [--pretrain-epochs 6] [--train-images 500] [--epochs 20]
        [--learning-rate 0.001] [--freeze-epochs 0] [--min-gain 5.0]

Pretraining: one toolkit recipe (mobilenet_v2 width 0.35, stem_stride 1, Fashion-MNIST 28 px grey,
the first --pretrain-samples training images) run up to `evaluate` (float32 only, to report its
Fashion-MNIST accuracy); its checkpoints/trained.keras is the weights file.
Target: `digits` (scikit-learn's 1,797 real 8x8 digits, upscaled by the pipeline to 28 px, one
channel, so every backbone layer matches). `data.test_fraction` is chosen so that exactly
--train-images images train (all of them: validation_fraction 0), the other ~1,300 are the test
split; the split is drawn from the recipe's seed, so both arms of one seed see the same images.
Per seed the same recipe runs twice, with `model.weights: PRETRAINED` and without (random init),
same epochs, learning rate, augmentation and seed; the score is the Keras test accuracy
(manifest stages.evaluate.outputs.keras.accuracy). --freeze-epochs N sets train.freeze_backbone_epochs
on the pretrained arm only (a random backbone has nothing worth freezing). Runs through the Python
API up to `evaluate` (the benchmark stage is not used). Writes benchmarks/results/transfer_learning.txt.
Rerunnable: finished run directories under --out are reused (the pretrained arm's directory is
named after --freeze-epochs, so a second value reuses the pretraining and the random arms).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIGITS = 1797  # sklearn load_digits()
BACKBONE = {"name": "mobilenet_v2", "width": 0.35, "stem_stride": 1}


def run(recipe: dict, run_dir: Path) -> dict:
    """Run (or resume) a recipe up to evaluate; returns the manifest's stages."""
    from tflite_edge.recipe import validate_dict
    from tflite_edge.run import run_recipe

    t0 = time.monotonic()
    print(f"== {run_dir.name}", flush=True)
    run_recipe(validate_dict(recipe), run_dir, log=lambda m: print("  " + str(m), flush=True), until="evaluate")
    print(f"== {run_dir.name}: {time.monotonic() - t0:.0f} s", flush=True)
    return json.loads((run_dir / "manifest.json").read_text())["stages"]


def digits_test_fraction(train_images: int) -> float:
    """test_fraction for which sklearn's train_test_split keeps exactly `train_images` for training
    (it takes ceil(fraction * n) test images)."""
    frac = round((DIGITS - train_images - 0.5) / DIGITS, 6)
    assert DIGITS - math.ceil(frac * DIGITS) == train_images, frac
    return frac


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="run directories (default: a new temporary directory)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--pretrain-samples", type=int, default=15000, help="first N Fashion-MNIST training images")
    ap.add_argument("--pretrain-epochs", type=int, default=6)
    ap.add_argument("--train-images", type=int, default=500, help="digits images the target runs train on")
    ap.add_argument("--epochs", type=int, default=20, help="train.epochs of both arms")
    ap.add_argument("--learning-rate", type=float, default=0.001)
    ap.add_argument("--freeze-epochs", type=int, default=0,
                    help="train.freeze_backbone_epochs of the pretrained arm (counted in --epochs)")
    ap.add_argument("--min-gain", type=float, default=5.0, help="the figure: points, every seed and the mean")
    args = ap.parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:])
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="transfer_"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    pre = run({"name": "pretrain_fashion_mnist", "seed": 100,
               "data": {"dataset": "fashion_mnist", "path": "/usr/share/datasets/fashion-mnist",
                        "train_samples": args.pretrain_samples, "test_samples": 2000, "batch_size": 64},
               "model": BACKBONE,
               "train": {"epochs": args.pretrain_epochs, "learning_rate": 0.002, "schedule": "cosine",
                         "tensorboard": False},
               "convert": {"formats": ["float32"]}}, base / "pretrain")
    weights = str((base / "pretrain" / "checkpoints" / "trained.keras").resolve())
    pre_acc = pre["evaluate"]["outputs"]["keras"]["accuracy"]

    test_fraction = digits_test_fraction(args.train_images)
    rows = []
    for seed in args.seeds:
        arms = {}
        for arm in ("random", "pretrained"):
            model = {**BACKBONE, "input_size": 28, "channels": 1}
            train = {"epochs": args.epochs, "learning_rate": args.learning_rate, "schedule": "cosine",
                     "tensorboard": False}
            run_name = f"s{seed}_random"
            if arm == "pretrained":
                model["weights"] = weights
                train["freeze_backbone_epochs"] = args.freeze_epochs
                run_name = f"s{seed}_pretrained_freeze{args.freeze_epochs}"
            stages = run({"name": f"digits_{arm}", "seed": seed,
                          "data": {"dataset": "digits", "test_fraction": test_fraction, "validation_fraction": 0.0,
                                   "batch_size": 32, "augment": {"flip": False, "translate": 0.1}},
                          "model": model, "train": train, "convert": {"formats": ["float32"]}},
                         base / run_name)
            arms[arm] = stages["evaluate"]["outputs"]["keras"]
        rows.append({"seed": seed, "random": arms["random"]["accuracy"], "pretrained": arms["pretrained"]["accuracy"],
                     "test_samples": arms["random"]["test_samples"]})
        print(rows[-1], flush=True)

    for r in rows:
        r["gain"] = 100 * (r["pretrained"] - r["random"])
    mean_random = statistics.mean(r["random"] for r in rows)
    mean_pre = statistics.mean(r["pretrained"] for r in rows)
    mean_gain = 100 * (mean_pre - mean_random)
    every = all(r["gain"] >= args.min_gain for r in rows)
    met = every and mean_gain >= args.min_gain
    text = (f"$ {command}\n"
            f"backbone: mobilenet_v2 width 0.35, stem_stride 1, 28x28x1\n"
            f"pretrained on Fashion-MNIST: first {args.pretrain_samples} training images, {args.pretrain_epochs} "
            f"epochs (lr 0.002 cosine, seed 100); its test accuracy on the first 2000 test images "
            f"{100 * pre_acc:.2f}%\n"
            f"target: digits (sklearn, real 8x8 upscaled to 28 px), {args.train_images} training images "
            f"(test_fraction {test_fraction}, validation_fraction 0), {rows[0]['test_samples']} test images, "
            f"split drawn from the seed\n"
            f"both arms: {args.epochs} epochs, Adam lr {args.learning_rate} cosine, batch 32, augment translate 0.1; "
            f"pretrained arm: model.weights = pretrain's trained.keras, freeze_backbone_epochs "
            f"{args.freeze_epochs}\n\n"
            f"{'seed':>4}  {'random init':>11}  {'pretrained':>10}  {'gain (points)':>13}  {'>= ' + str(args.min_gain):>7}\n"
            + "".join(f"{r['seed']:>4}  {100 * r['random']:>10.2f}%  {100 * r['pretrained']:>9.2f}%  "
                      f"{r['gain']:>+13.2f}  {'met' if r['gain'] >= args.min_gain else 'not met':>7}\n" for r in rows)
            + f"{'mean':>4}  {100 * mean_random:>10.2f}%  {100 * mean_pre:>9.2f}%  {mean_gain:>+13.2f}  "
              f"{'met' if mean_gain >= args.min_gain else 'not met':>7}\n\n"
            f"figure (gain >= {args.min_gain} points on every seed and the mean): {'met' if met else 'not met'}\n"
            f"wall time: {time.monotonic() - t0:.0f} s; run directories under {base}\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transfer_learning.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
