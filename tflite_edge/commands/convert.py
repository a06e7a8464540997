"""`tflite-edge convert MODEL.keras --format ...`: your own Keras classifier to TFLite, each artifact
with the TFLite Model Metadata a run gives its artifacts (model_convert.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert your own Keras model (.keras/.h5) to TFLite")
    p.add_argument("model")
    p.add_argument("--format", required=True, help="one or more, comma-separated: float32,int8,...")
    p.add_argument("--calibration", help="folder of representative images (integer formats)")
    p.add_argument("--calibration-samples", type=int, default=200)
    p.add_argument("--labels", metavar="FILE", help="one label per line, in the order of the model's outputs "
                   "(packed into the TFLite metadata; default: the class indices)")
    p.add_argument("--mean", type=float, default=None, help="input normalisation from 0..255: (pixel - mean) / "
                   "std (default: from a Rescaling layer at the input, else 127.5)")
    p.add_argument("--std", type=float, default=None)
    p.add_argument("--trust-lambda", action="store_true", help="allow Lambda layers (they run code)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..model_convert import convert_model

    for art in convert_model(Path(args.model), [f for f in args.format.split(",") if f], Path(args.out),
                             calibration=Path(args.calibration) if args.calibration else None,
                             labels=Path(args.labels) if args.labels else None, mean=args.mean, std=args.std,
                             calibration_samples=args.calibration_samples, trust_lambda=args.trust_lambda,
                             log=lambda text: print(text, file=sys.stderr)):
        print(json.dumps(art))
    return 0
