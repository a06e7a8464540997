"""Classification in `tflite-edge predict` (TensorFlow-free): one score output, the top-k labels."""
from __future__ import annotations

from typing import List

import numpy as np

from ...errors import UserInputError


def prepare(predictor, meta, model_bytes: bytes, shapes: List[List[int]], where: str) -> None:
    """Check the outputs against the labels: one score per label."""
    if len(shapes) != 1 or int(np.prod(shapes[0])) != len(predictor.labels):
        raise UserInputError(f"{where}: outputs {shapes} but {len(predictor.labels)} labels; a classifier needs "
                             "one output with one score per label")


def run(predictor, image, path, top_k: int, threshold: float, draw) -> dict:
    return {"image": str(path), "top_k": predictor.classify(image, top_k)}


def result_threshold(threshold: float):
    return None  # classifiers have no score threshold


def text_lines(r: dict, result: dict) -> List[str]:
    width = max(len(p["label"]) for p in r["top_k"])
    return ([r["image"] + (f"  (answered by {r['answered_by']})" if "answered_by" in r else "")]
            + [f"  {i}. {p['label']:<{width}}  {p['score']:.4f}" for i, p in enumerate(r["top_k"], 1)])
