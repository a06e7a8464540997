"""Issue 24's figure: what the dataset check (tflite_edge/data/check.py) costs on 10,000 images.

    .venv/bin/python benchmarks/image_check_cost.py [--images 10000] [--size 320x240] [--work /tmp/image_check]

Writes --images photo-like JPEGs and PNGs (smooth gradients plus noise, --size pixels; 1 in 10 a
PNG) and the corrupt corpus of tests/bad_images.py into --work, then times `check_files` over
all of them: cold (every file decoded), warm (a resume: every verdict from the cache), and cold
with one worker (the thread pool's gain). Prints seconds, images per second, ms per image and
whether every bad file, and only those, was named.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import bad_images  # noqa: E402
from tflite_edge.data import check  # noqa: E402


def photo(rng, w: int, h: int) -> Image.Image:
    """Smooth colour gradients and mild noise: compresses like a photo, unlike pure noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], -1) * rng.uniform(0.5, 1.0, 3)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def write_corpus(work: Path, n: int, w: int, h: int, rng) -> list:
    paths = []
    for i in range(n):
        p = work / f"class_{i % 10}" / f"img_{i:05d}.{'png' if i % 10 == 0 else 'jpg'}"
        p.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        photo(rng, w, h).save(buf, "PNG" if p.suffix == ".png" else "JPEG", quality=90)
        p.write_bytes(buf.getvalue())
        paths.append(str(p))
    return paths


def timed(paths, cache, workers=None):
    t0 = time.perf_counter()
    bad = check.check_files(paths, cache, workers=workers)
    return time.perf_counter() - t0, bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--work", default="/tmp/image_check")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    good = write_corpus(work / "images", args.images, w, h, rng)
    bad_files = bad_images.write_bad_files(work / "images" / "class_0", rng)
    paths = good + [str(p) for p in bad_files.values()]
    size_mb = sum(os.path.getsize(p) for p in paths) / 2 ** 20
    print(f"corpus: {len(good):,} good images ({w}x{h}, 90% JPEG, 10% PNG) + {len(bad_files)} bad, "
          f"{size_mb:,.1f} MiB, written in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    cache = work / check.CACHE_FILE
    runs = [("cold, thread pool", None, True), ("warm (resume: cache)", None, False), ("cold, 1 worker", 1, True)]
    ok = True
    for label, workers, cold in runs:
        if cold:
            cache.unlink(missing_ok=True)
        seconds, bad = timed(paths, cache, workers)
        named = set(bad) == {str(p) for p in bad_files.values()}
        ok &= named
        print(f"{label:<22} {seconds:8.2f} s  {len(paths) / seconds:10,.0f} images/s  "
              f"{1000 * seconds / len(paths):7.3f} ms/image  bad named: {len(bad)} ({'exact' if named else 'WRONG'})")
    print(f"cache file: {cache.stat().st_size / 2 ** 20:.1f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
