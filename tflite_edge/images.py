"""Images in: files and folders, PIL images, numpy arrays of 0..255 pixels; decoded and
preprocessed the way an app feeds a model (resize bilinear, then (pixel - mean) / std)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import numpy as np

from .errors import UserInputError


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


def to_pil(image, where: str = "image"):
    """A path, PIL image or numpy array of 0..255 pixels (H, W[, C]) as a PIL image."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        return load_image(Path(image))
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        x = image
        if x.ndim == 3 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[-1] not in (3, 4)):
            raise UserInputError(f"{where}: array of shape {image.shape}; give one image (H, W), (H, W, 1) or "
                                 "(H, W, 3) of 0..255 pixels")
        if np.issubdtype(x.dtype, np.floating) and x.size and 0 < float(np.nanmax(x)) <= 1.0:
            raise UserInputError(f"{where}: float pixels in 0..1; give 0..255 pixels (multiply by 255): "
                                 "the model's normalisation is applied from 0..255")
        return Image.fromarray(np.clip(np.nan_to_num(x), 0, 255).astype(np.uint8))
    raise UserInputError(f"{where}: a {type(image).__name__}; give a file path, a PIL image or a numpy array")


def image_list(images, where: str) -> list:
    """A folder, a path, one image or a sequence of them (or an N-image array) as a list of items."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return list(images)
    if isinstance(images, (str, Path)):
        return collect_images([Path(images)])
    if isinstance(images, (list, tuple)):
        out = []
        for item in images:
            if isinstance(item, (str, Path)):
                out += collect_images([Path(item)])
            else:
                out += list(item) if isinstance(item, np.ndarray) and item.ndim == 4 else [item]
        if not out:
            raise UserInputError(f"{where}: no images given")
        return out
    return [images]


def preprocess(image, height: int, width: int, channels: int, mean, std) -> np.ndarray:
    """One image as the float input of a model: resized (bilinear), (pixel - mean) / std."""
    from PIL import Image

    img = to_pil(image).convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32).reshape(height, width, channels)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def calibration_array(images, shape, mean, std, limit: int) -> np.ndarray:
    """Up to `limit` representative images, preprocessed, as one float array."""
    if isinstance(images, (str, Path)) and not Path(images).is_dir():
        raise UserInputError(f"--calibration {images}: folder not found; give a folder of representative images")
    items = image_list(images, "calibration")[:limit]
    return np.stack([preprocess(x, *shape, mean, std) for x in items])


