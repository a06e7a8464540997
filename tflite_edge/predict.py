"""`tflite-edge predict`: run a .tflite image model as an app would, with the labels and the input
normalisation its TFLite metadata carries (ours or another tool's); no recipe needed.

>>> result = predict(Path("shapes_int8.tflite"), [Path("photos/")], top_k=3)   # doctest: +SKIP
>>> result["results"][0]["top_k"][0]["label"]                                 # doctest: +SKIP
'circle'

Pixels (0..255) become (pixel - mean) / std; integer inputs then get the input tensor's own
quantization, q = round(x / scale) + zero_point, as the metadata schema prescribes. A uint8 input
whose metadata has no normalisation gets the raw pixels, as the Task Library feeds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from .errors import UserInputError
from .runtime import dequantize
from .metadata import parse_labels, read_metadata
from .tasks import TASK_NAMES, task_module

_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]


@dataclass
class Predictor:
    """An interpreter with what running it needs: preprocessing, labels, task, output roles."""

    path: Path
    interpreter: object
    task: str
    labels: List[str]
    mean: Optional[np.ndarray]  # None: raw pixels into a uint8 input
    std: Optional[np.ndarray]
    normalisation: str  # where mean/std came from: metadata, flags, raw, none
    roles: Optional[List[str]] = None  # detection: the role of each output, in output order
    box_layout: Optional[dict] = None

    @property
    def input(self) -> dict:
        return self.interpreter.get_input_details()[0]

    def preprocess(self, image) -> np.ndarray:
        from PIL import Image

        _, height, width, channels = (int(v) for v in self.input["shape"])
        img = image.convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32).reshape(height, width, channels)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        dtype = np.dtype(self.input["dtype"])
        if np.issubdtype(dtype, np.integer):
            scale, zero_point = self.input["quantization"]
            if self.mean is not None and scale:
                x = x / scale + zero_point
            info = np.iinfo(dtype)
            x = np.clip(np.round(x), info.min, info.max)
        return x.astype(dtype)[None]

    def run(self, image) -> List[np.ndarray]:
        """The model's outputs for one PIL image, dequantised, in output order."""
        it = self.interpreter
        it.set_tensor(self.input["index"], self.preprocess(image))
        it.invoke()
        outputs = []
        for d in it.get_output_details():
            outputs.append(dequantize(it.get_tensor(d["index"]), d))
        return outputs

    def classify(self, image, top_k: int) -> List[dict]:
        return top_labels(self.run(image)[0].reshape(-1), self.labels, top_k)

    def detect(self, image, threshold: float) -> List[dict]:
        out = dict(zip(self.roles, self.run(image)))
        boxes, classes = out["boxes"].reshape(-1, 4), out["classes"].reshape(-1)
        scores = out["scores"].reshape(-1)
        count = min(int(out["count"].reshape(-1)[0]), len(scores))
        _, height, width, _ = (int(v) for v in self.input["shape"])
        found = []
        for i in range(count):
            if scores[i] < threshold:
                continue
            c = int(classes[i])
            found.append({"label": self.labels[c] if 0 <= c < len(self.labels) else str(c), "class": c,
                          "score": float(scores[i]),
                          "box": _to_yxyx(boxes[i], self.box_layout, height, width)})
        return found


def top_labels(scores: np.ndarray, labels: Sequence[str], top_k: int) -> List[dict]:
    """The `top_k` classes of one image's scores, best first, with their labels."""
    best = np.argsort(-scores, kind="stable")[:top_k]
    return [{"label": labels[i], "index": int(i), "score": float(scores[i])} for i in best]


def _to_yxyx(values, layout: dict, height: int, width: int) -> List[float]:
    """A box in the metadata's layout as [ymin, xmin, ymax, xmax], ratios of the image size."""
    index = list(layout.get("index") or [0, 1, 2, 3])
    a, b, c, d = (float(values[index[k]]) for k in range(4))  # the layout type's canonical order
    kind = layout.get("type")
    if kind == "UPPER_LEFT":  # x, y, width, height
        box = [b, a, b + d, a + c]
    elif kind == "CENTER":  # centre x, centre y, width, height
        box = [b - d / 2, a - c / 2, b + d / 2, a + c / 2]
    else:  # BOUNDARIES: left, top, right, bottom
        box = [b, a, d, c]
    if layout.get("coordinate_type") == "PIXEL":
        box = [box[0] / height, box[1] / width, box[2] / height, box[3] / width]
    return box


def _channel_values(flag: str, values: Optional[Sequence[float]], channels: int) -> Optional[np.ndarray]:
    if values is None:
        return None
    if len(values) not in (1, channels):
        raise UserInputError(f"{flag} {','.join(map(str, values))}: give 1 or {channels} values "
                             f"(the model takes {channels} channel(s))")
    return np.asarray(list(values) * channels if len(values) == 1 else values, dtype=np.float32)


def read_labels(path: Path) -> List[str]:
    try:
        labels = parse_labels(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UserInputError(f"--labels {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    if not labels:
        raise UserInputError(f"--labels {path}: empty; give one label per line")
    return labels


def open_model(path: Path, labels: Optional[Path] = None, mean: Optional[Sequence[float]] = None,
               std: Optional[Sequence[float]] = None, raw: bool = False, threads: int = 1) -> Predictor:
    """A Predictor for `path`; flags override what the metadata says and stand in where it has none."""
    from .bench.host import check_tflite_file
    from .runtime import make_interpreter

    path = Path(path)
    if (mean is None) != (std is None):
        raise UserInputError("--mean and --std go together: give both (one value, or one per channel)")
    if raw and mean is not None:
        raise UserInputError("--raw and --mean/--std exclude each other: --raw feeds 0..255 pixels as they are")
    check_tflite_file(path)
    data = path.read_bytes()
    meta = read_metadata(data)
    where = str(path)
    if meta is None and (labels is None or (mean is None and not raw)):
        raise UserInputError(f"{where}: no TFLite metadata; give --labels FILE and --mean M --std S "
                             "(or --raw for a model that takes 0..255 pixels)")
    try:
        interpreter, _ = make_interpreter(str(path), threads)
    except (RuntimeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserInputError(f"{where}: the interpreter cannot load it ({reason})") from None
    inputs = interpreter.get_input_details()
    if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or int(inputs[0]["shape"][3]) not in (1, 3):
        raise UserInputError(f"{where}: inputs {[list(d['shape']) for d in inputs]}; predict needs one "
                             "image input [1, height, width, 1 or 3]")
    inp = inputs[0]
    signature = [int(v) for v in inp.get("shape_signature", inp["shape"])]
    if min(signature[1:3]) < 1:  # dynamic height/width: the metadata's default size, as apps use
        size = ((meta or {}).get("inputs") or [{}])[0].get("default_size")
        if not size:
            raise UserInputError(f"{where}: input size {signature} is dynamic and no metadata gives a "
                                 "default size")
        interpreter.resize_tensor_input(inp["index"], [1, size[1], size[0], signature[3]])
        interpreter.allocate_tensors()
    channels = int(inp["shape"][3])
    shapes = [[int(v) for v in d["shape"]] for d in interpreter.get_output_details()]

    task = (meta or {}).get("task") or {1: "classification", 4: "detection"}.get(len(shapes))
    if task is None:
        raise UserInputError(f"{where}: {len(shapes)} outputs; predict runs classifiers (one score output) "
                             "and TFLite_Detection_PostProcess detectors (four outputs)")
    label_list = read_labels(labels) if labels is not None else meta.get("labels")
    if not label_list:
        raise UserInputError(f"{where}: its metadata packs no labels file; give --labels FILE")

    meta_input = ((meta or {}).get("inputs") or [{}])[0]
    if raw:
        mean_v, std_v, source = np.zeros(channels, np.float32), np.ones(channels, np.float32), "raw"
    elif mean is not None:
        mean_v, std_v = _channel_values("--mean", mean, channels), _channel_values("--std", std, channels)
        source = "flags"
        if not np.all(std_v):
            raise UserInputError(f"--std {','.join(map(str, std))}: must not be 0")
    elif meta_input.get("mean") and meta_input.get("std"):
        mean_v = _channel_values("metadata mean", meta_input["mean"], channels)
        std_v, source = _channel_values("metadata std", meta_input["std"], channels), "metadata"
    elif np.dtype(inp["dtype"]) == np.uint8:
        mean_v, std_v, source = None, None, "none"
    else:
        raise UserInputError(f"{where}: its metadata gives no input normalisation; give --mean M --std S "
                             "(or --raw for a model that takes 0..255 pixels)")

    predictor = Predictor(path, interpreter, task, list(label_list), mean_v, std_v, source)
    task_module(task, "predict").prepare(predictor, meta, data, shapes, where)  # tasks/NAME/predict.py
    return predictor


def collect_images(paths: Sequence[Path]) -> List[Path]:
    """The image files named, and those under the folders named (any depth, sorted)."""
    from .data.image_folder import EXTENSIONS

    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
            if not found:
                raise UserInputError(f"{p}: no {'/'.join(sorted(EXTENSIONS))} images in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise UserInputError(f"{p}: no such image file or folder")
    return files


def load_image(path: Path):
    """The decoded image, turned upright as its EXIF orientation says (phone photos)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img).copy()
    except UnidentifiedImageError:
        reason = "unknown image format"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        reason = str(e) or type(e).__name__
    raise UserInputError(f"{path}: cannot decode the image ({reason}); give a JPEG, PNG, BMP or GIF file")


def draw_boxes(image, detections: List[dict], path: Path) -> Path:
    """`image` with each detection's box and "label score" drawn, written as PNG to `path`."""
    from PIL import ImageDraw

    from .atomic import atomic_path

    img = image.convert("RGB")
    draw = ImageDraw.Draw(img)
    w, h = img.size
    line = max(1, round(min(w, h) / 150))
    for det in detections:
        ymin, xmin, ymax, xmax = (min(max(v, 0.0), 1.0) for v in det["box"])
        colour = _COLOURS[det["class"] % len(_COLOURS)]
        draw.rectangle([xmin * w, ymin * h, xmax * w, ymax * h], outline=colour, width=line)
        text_at = (xmin * w + line, ymin * h + line)
        draw.rectangle(draw.textbbox(text_at, f"{det['label']} {det['score']:.2f}"), fill=colour)
        draw.text(text_at, f"{det['label']} {det['score']:.2f}", fill="white")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def _own_file_runner(model: Path):
    """The predict module of the task that opens `model` itself (not a .tflite: classification's
    cascade.json), by its optional `opens(model)`; None for a plain .tflite."""
    for name in TASK_NAMES:
        runner = task_module(name, "predict")
        if getattr(runner, "opens", None) is not None and runner.opens(model):
            return runner
    return None


def predict(model: Path, inputs: Sequence[Path], top_k: int = 5, threshold: float = 0.5,
            out: Optional[Path] = None, labels: Optional[Path] = None, mean: Optional[Sequence[float]] = None,
            std: Optional[Sequence[float]] = None, raw: bool = False) -> dict:
    """Predictions for every image (JSON-ready). Detection draws IMAGE_boxes.png into `out` if given.

    Every image is decoded before any is run, so a bad one stops the command before any output."""
    from .bench.host import check_tflite_file

    own = _own_file_runner(Path(model))
    if own is not None:
        return own.predict_file(Path(model), inputs, top_k, labels)
    check_tflite_file(Path(model))  # the model first, then the images, then the interpreter
    files = collect_images(inputs)
    predictor = open_model(Path(model), labels, mean, std, raw)
    images = [load_image(f) for f in files]
    used = set()

    def draw(image, found, path) -> Optional[str]:
        if out is None:
            return None
        name, n = f"{path.stem}_boxes.png", 1
        while name in used:  # same stem in two folders: keep both
            n += 1
            name = f"{path.stem}_boxes_{n}.png"
        used.add(name)
        return str(draw_boxes(image, found, Path(out) / name))

    runner = task_module(predictor.task, "predict")
    results = [runner.run(predictor, image, path, top_k, threshold, draw) for path, image in zip(files, images)]
    return {"model": str(model), "task": predictor.task,
            "preprocessing": {"source": predictor.normalisation,
                              "mean": None if predictor.mean is None else predictor.mean.tolist(),
                              "std": None if predictor.std is None else predictor.std.tolist(),
                              "input_dtype": np.dtype(predictor.input["dtype"]).name},
            "threshold": runner.result_threshold(threshold), "results": results}


def format_text(result: dict) -> str:
    """The result as a terminal table: top-k per image, or each detection with its box."""
    lines = []
    for r in result["results"]:
        lines += task_module(result["task"], "predict").text_lines(r, result)
    return "\n".join(lines)
