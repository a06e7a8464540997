"""`tflite-edge predict MODEL IMAGE...`: run an artifact (or a cascade) on images."""
from __future__ import annotations

import json
from pathlib import Path

from .argtypes import count, floats, fraction


def register(sub) -> None:
    p = sub.add_parser("predict", help="run a .tflite model (or an early-exit cascade: its cascade.json) on "
                       "images with the labels and normalisation of its metadata")
    p.add_argument("model", metavar="MODEL.tflite|cascade.json")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--top-k", type=count, default=5, metavar="K",
                   help="classification: labels shown per image (default 5)")
    p.add_argument("--threshold", type=fraction, default=0.5, metavar="T",
                   help="detection: keep boxes scoring at least this (default 0.5)")
    p.add_argument("--out", metavar="DIR", help="detection: write IMAGE_boxes.png with the boxes drawn here")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.add_argument("--labels", metavar="FILE", help="one label per line (models without metadata; overrides it)")
    p.add_argument("--mean", type=floats, metavar="M", help="input normalisation (pixel - mean) / std "
                   "from 0..255: one value or one per channel (models without metadata; overrides it)")
    p.add_argument("--std", type=floats, metavar="S")
    p.add_argument("--raw", action="store_true", help="feed 0..255 pixels unnormalised (models without metadata)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..predict import format_text, predict

    result = predict(Path(args.model), [Path(p) for p in args.inputs], top_k=args.top_k,
                     threshold=args.threshold, out=Path(args.out) if args.out else None,
                     labels=Path(args.labels) if args.labels else None, mean=args.mean, std=args.std,
                     raw=args.raw)
    print(json.dumps(result, indent=2) if args.json else format_text(result))
    return 0
