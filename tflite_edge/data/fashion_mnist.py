"""Fashion-MNIST from the four standard IDX .gz files (Debian: `apt-get install dataset-fashion-mnist`)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ..errors import UserInputError
from .base import DATASETS, Dataset

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
           "ankle-boot"]
FILES = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
         "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
HOW_TO_GET = ("install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or download "
              "the four *-ubyte.gz files from github.com/zalandoresearch/fashion-mnist and set data.path")


def read_idx(path: Path, limit=None) -> np.ndarray:
    """Read an IDX file (gzip or plain): magic 0x0803 for images, 0x0801 for labels."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
            if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
                raise ValueError(f"bad IDX magic (type 0x{dtype_code:02x}, {ndim} dims)")
            dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
            n = dims[0] if limit is None else min(limit, dims[0])
            count = n * int(np.prod(dims[1:], dtype=np.int64))
            data = np.frombuffer(f.read(count), np.uint8)
    except (OSError, EOFError, struct.error, ValueError) as e:
        raise UserInputError(f"{path}: not a readable IDX file ({e}); re-download it ({HOW_TO_GET})") from None
    if data.size != count:
        raise UserInputError(f"{path}: truncated IDX file ({data.size} of {count} bytes); re-download it")
    return data.reshape((n,) + tuple(dims[1:]))


@DATASETS.register("fashion_mnist", summary="Fashion-MNIST 28x28 grayscale from IDX files (data.path)")
def load_fashion_mnist(spec, seed: int) -> Dataset:
    root = Path(spec.path)
    missing = [name for name in FILES.values() if not (root / name).is_file()]
    if missing:
        raise UserInputError(f"data.path {root}: Fashion-MNIST files not found ({', '.join(missing)}); "
                             + HOW_TO_GET)
    tx = read_idx(root / FILES["train_x"], spec.train_samples)[..., None]
    ty = read_idx(root / FILES["train_y"], spec.train_samples).astype(np.int64)
    vx = read_idx(root / FILES["test_x"], spec.test_samples)[..., None]
    vy = read_idx(root / FILES["test_y"], spec.test_samples).astype(np.int64)
    for x, y, which in ((tx, ty, "train"), (vx, vy, "test")):
        if len(x) != len(y):
            raise UserInputError(f"data.path {root}: {which} images ({len(x)}) and labels ({len(y)}) differ")
        if y.size and y.max() >= len(CLASSES):
            raise UserInputError(f"data.path {root}: {which} label {y.max()} is not a Fashion-MNIST class")
    return Dataset(tx, ty, vx, vy, class_names=list(CLASSES), channels=1, image_size=28)
