"""Every image file of a dataset decoded once before any training, so a bad file is named up front
instead of ending a run mid-epoch in a TensorFlow graph error without its name.

A file passes when it holds JPEG, PNG, GIF, BMP or WebP data (what `tf.io.decode_image` reads, data/
pipeline.py), has at most MAX_PIXELS pixels (a 20000x20000 header is refused from the header, never
allocated), its PNG chunks have good checksums, and it decodes to the end (a truncated file fails).
JPEGs decode at 1/8 scale (libjpeg's DCT scaling): all of the compressed data is still read, at a
fraction of the cost. Files are checked in a thread pool (Pillow decodes outside the GIL) and the
verdicts cached in RUN_DIR/image_check.json by path, size and mtime, so a resume checks nothing
again. `data.bad_images` decides: `error` (default) stops with the first few paths and the count,
`skip` drops them from both splits and the report counts them.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import atomic
from ..errors import UserInputError

CACHE_FILE = "image_check.json"
MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit: ~358 MB as RGBA
DECODABLE = ("JPEG", "PNG", "GIF", "BMP", "WEBP")  # by content, whatever the file's extension
SHOWN = 5  # paths named in the error; the count says how many more


def check_file(path: str) -> Optional[str]:
    """None when the file decodes as training will decode it, else why not (a short phrase)."""
    from PIL import Image, UnidentifiedImageError

    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        with Image.open(path) as im:
            if im.format not in DECODABLE:
                return f"{im.format} data; training reads JPEG, PNG, GIF, BMP and WebP"
            w, h = im.size
            if w * h > MAX_PIXELS:
                return _too_large(w * h)
            im.verify()  # PNG: every chunk's CRC; cheap for the others
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft(im.mode, (1, 1))  # 1/8 scale: reads all the data, decodes a fraction
            im.load()
    except UnidentifiedImageError:
        return "not an image (no known image header)"
    except Image.DecompressionBombError as e:  # Pillow refuses twice its limit already at open
        return _too_large(int(re.search(r"\((\d+) pixels\)", str(e)).group(1)))
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # Pillow raises all of these for bad data
        return f"cannot be decoded ({str(e).splitlines()[0][:100] or type(e).__name__})"
    return None


def _too_large(pixels: int) -> str:
    return f"{pixels:,} pixels, over the {MAX_PIXELS:,}-pixel limit (a decompression bomb or a huge scan); not decoded"


def _load_cache(path: Path) -> Dict[str, list]:
    try:
        return json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no cache or an unreadable one: check again


def verdicts(paths: Sequence[str], known: Dict[str, list], workers: Optional[int] = None) -> Dict[str, list]:
    """{path: [size, mtime_ns, reason or None]} for every path, reusing `known` verdicts whose
    size and mtime still match and checking the rest in a thread pool."""
    entries, todo = {}, []
    for p in dict.fromkeys(str(p) for p in paths):  # once each, in order
        try:
            st = os.stat(p)
        except OSError as e:
            entries[p] = [None, None, f"unreadable ({e.strerror})"]
            continue
        hit = known.get(p)
        if hit is not None and hit[:2] == [st.st_size, st.st_mtime_ns]:
            entries[p] = hit
        else:
            entries[p] = [st.st_size, st.st_mtime_ns, None]
            todo.append(p)
    if todo:
        from PIL import Image

        with warnings.catch_warnings():  # the pixel limit is ours; Pillow's own warning adds nothing
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
                for p, reason in zip(todo, pool.map(check_file, todo)):
                    entries[p][2] = reason
    return entries


def check_files(paths: Sequence[str], cache: Optional[Path] = None, workers: Optional[int] = None,
                summary=None) -> Dict[str, str]:
    """{path: reason} for the files that fail; verdicts cached in `cache` by size and mtime, with
    `summary(bad)` beside them when given."""
    entries = verdicts(paths, _load_cache(cache) if cache is not None else {}, workers)
    bad = {p: e[2] for p, e in entries.items() if e[2] is not None}
    if cache is not None:
        atomic.write_json(cache, {"version": 1, "files": entries,
                                  **({"summary": summary(bad)} if summary else {})})
    return bad


def describe(bad: Dict[str, str]) -> str:
    shown = "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:SHOWN])
    more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return f"{len(bad)} image file(s) cannot be used: {shown}{more}"


def _split_paths(dataset) -> List[Sequence[str]]:
    if hasattr(dataset, "train_x"):
        return [dataset.train_x, dataset.test_x] if dataset.from_files else []
    return [s.images for s in (dataset.train, dataset.test) if not isinstance(s.images, np.ndarray)]


def _without(dataset, bad) -> None:
    """Drop the bad files from both splits, in place."""
    if hasattr(dataset, "train_x"):
        for x, y in (("train_x", "train_y"), ("test_x", "test_y")):
            keep = np.array([p not in bad for p in getattr(dataset, x)], dtype=bool)
            setattr(dataset, x, np.asarray(getattr(dataset, x))[keep])
            setattr(dataset, y, np.asarray(getattr(dataset, y))[keep])
        return
    for name in ("train", "test"):
        split = getattr(dataset, name)
        setattr(dataset, name, split.subset([i for i, p in enumerate(split.images) if p not in bad]))
    dataset.counts["images_skipped_undecodable"] += len(bad)


def check_dataset(dataset, spec, run_dir: Path, log=print):
    """Check every image file of `dataset` (in memory datasets pass through); apply data.bad_images.

    Writes the outcome to RUN_DIR/image_check.json's summary for the report; returns the dataset."""
    splits = _split_paths(dataset)
    if not splits:
        return dataset
    cache = Path(run_dir) / CACHE_FILE
    paths = [str(p) for s in splits for p in s]
    policy = getattr(spec, "bad_images", "error")
    bad = check_files(paths, cache, summary=lambda bad: {
        "images": len(set(paths)), "bad": len(bad), "policy": policy, "skipped": len(bad) if policy == "skip" else 0,
        "bad_files": [{"path": p, "reason": r} for p, r in list(bad.items())[:100]]})
    if not bad:
        return dataset
    if policy != "skip":
        raise UserInputError(f"data: {describe(bad)}; remove or re-save them, or set data.bad_images: skip "
                             "to train without them")
    log(f"  data.bad_images skip: {describe(bad)}")
    _without(dataset, set(bad))
    if any(len(s) == 0 for s in _split_paths(dataset)):
        raise UserInputError(f"data: no usable image left in a split after skipping {len(bad)} bad file(s); "
                             "fix the files")
    return dataset


def summary(run_dir: Path) -> Optional[dict]:
    """The last check's outcome in `run_dir` (report.json's `data_check`), or None."""
    try:
        return json.loads((Path(run_dir) / CACHE_FILE).read_text()).get("summary")
    except (OSError, ValueError):
        return None
