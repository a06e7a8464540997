"""`tflite-edge convert MODEL.keras --format ...`: your own Keras model to TFLite."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserInputError


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert your own Keras model (.keras/.h5) to TFLite")
    p.add_argument("model")
    p.add_argument("--format", required=True, help="one or more, comma-separated: float32,int8,...")
    p.add_argument("--calibration", help="folder of representative images (integer formats)")
    p.add_argument("--calibration-samples", type=int, default=200)
    p.add_argument("--mean", type=float, default=127.5, help="input normalisation: (x - mean) / std")
    p.add_argument("--std", type=float, default=127.5)
    p.add_argument("--trust-lambda", action="store_true", help="allow Lambda layers (they run code)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)


def _calibration_from_dir(folder: Path, input_spec, limit: int):
    """Images under `folder` (any depth), preprocessed for the model, as one float array."""
    import numpy as np

    from ..data import Dataset
    from ..data.image_folder import EXTENSIONS
    from ..data.pipeline import numpy_batches

    if not folder.is_dir():
        raise UserInputError(f"--calibration {folder}: folder not found")
    files = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)[:limit]
    if not files:
        raise UserInputError(f"--calibration {folder}: no .jpg/.png/.bmp/.gif images found")
    ds = Dataset(np.array(files), np.zeros(len(files), np.int64), [], np.zeros(0), ["_"], 3, None)
    ds.channels = 3 if input_spec.channels == 3 else 1
    return np.concatenate(list(numpy_batches(np.array(files), ds, input_spec)))


def run(args) -> int:
    from ..export import CONVERTERS, convert_formats, write_artifact
    from ..formats import NEEDS_CALIBRATION
    from ..model_io import load_keras_model
    from ..models.classifier import InputSpec

    formats = [f for f in args.format.split(",") if f]
    for f in formats:
        CONVERTERS.get(f)
    model = load_keras_model(Path(args.model), trust_lambda=args.trust_lambda)
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4 or None in shape[1:]:
        raise UserInputError(f"{args.model}: expected one image input of static shape (H, W, C), got {shape}")
    spec = InputSpec(height=shape[1], width=shape[2], channels=shape[3], mean=args.mean, std=args.std)
    calibration = None
    if NEEDS_CALIBRATION & set(formats):
        if not args.calibration:
            raise UserInputError(f"--format {args.format}: integer formats need --calibration DIR "
                                 "(a folder of representative images)")
        calibration = _calibration_from_dir(Path(args.calibration), spec, args.calibration_samples)
    out = Path(args.out)
    for fmt, data in convert_formats(model, formats, calibration):
        path = out / f"{Path(args.model).stem}_{fmt}.tflite"
        info = write_artifact(data, path, fmt)
        print(json.dumps({"path": str(path), **info}))
    return 0
