"""Classification in `tflite-edge predict` (TensorFlow-free): one score output, the top-k labels;
and the early-exit cascades (adaptive:), which `predict` opens through `opens` / `predict_file`."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

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


def opens(model: Path) -> bool:
    """Whether `model` is a cascade (adaptive:): its cascade.json or the folder holding it."""
    from .adaptive.runner import CASCADE_FILE

    model = Path(model)
    return model.suffix == ".json" or (model.is_dir() and (model / CASCADE_FILE).is_file())


def predict_file(model: Path, inputs: Sequence[Path], top_k: int = 5, labels: Optional[Path] = None) -> dict:
    """Run an early-exit cascade image by image: each image stops at its first confident exit."""
    from PIL import Image

    from ...predict import collect_images, load_image, read_labels, top_labels
    from .adaptive.runner import Cascade

    cascade = Cascade.open(Path(model))
    spec = cascade.spec
    files = collect_images(inputs)
    images = [load_image(f) for f in files]
    names = read_labels(labels) if labels is not None else spec.get("labels")
    classes = int(cascade.segments[-1].output_details["probs"]["shape"][-1])
    if not names or len(names) != classes:
        raise UserInputError(f"{model}: {len(names or [])} label(s) for {classes} classes; give --labels FILE "
                             "with one label per class")
    i = spec["input"]
    last = len(cascade.segments) - 1
    results = []
    for path, image in zip(files, images):
        img = image.convert("RGB" if i["channels"] == 3 else "L").resize((i["width"], i["height"]), Image.BILINEAR)
        x = (np.asarray(img, np.float32).reshape(i["height"], i["width"], i["channels"]) - i["mean"]) / i["std"]
        scores, k = cascade.predict(x[None])
        results.append({"image": str(path), "exit": k, "answered_by": "the final head" if k == last else f"exit {k}",
                        "top_k": top_labels(scores, names, top_k)})
    return {"model": str(model), "task": "classification", "cascade": {
                "format": spec.get("format"), "segments": len(cascade.segments),
                "thresholds": cascade.thresholds},
            "preprocessing": {"source": "cascade.json", "mean": [i["mean"]], "std": [i["std"]],
                              "input_dtype": "float32"},
            "threshold": None, "results": results}
