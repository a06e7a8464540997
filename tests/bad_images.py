"""A held-out corrupt-image corpus, generated: each kind of bad file users' photo folders hold,
beside good files in every mode training must accept."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 20000) -> bytes:
    """A valid PNG header claiming side x side RGB pixels, with one tiny IDAT: a decompression bomb
    as a checker meets it (nothing may allocate side * side * 3 bytes)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def good_image(rng, mode: str = "RGB", size=(24, 20)) -> Image.Image:
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


BAD = ("text.jpg", "truncated.jpg", "empty.png", "bad_crc.png", "bomb.png", "tiff_as.png")


def write_bad_files(folder: Path, rng) -> dict:
    """{file name: path} of the bad files, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = _encode(good_image(rng, size=(64, 48)), "JPEG", quality=90)
    png = bytearray(_encode(good_image(rng), "PNG"))
    idat = png.index(b"IDAT")
    png[idat + 6] ^= 0xFF  # a byte inside the compressed data: the chunk's CRC no longer matches
    files = {"text.jpg": b"<html>404 not found</html>\n", "truncated.jpg": jpeg[:len(jpeg) // 2],
             "empty.png": b"", "bad_crc.png": bytes(png), "bomb.png": bomb_png(),
             "tiff_as.png": _encode(good_image(rng), "TIFF")}
    out = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out


def write_good_files(folder: Path, rng, n: int = 4) -> list:
    """Good files in every mode a photo folder holds: RGB JPEG and PNG, grayscale, RGBA, CMYK, a
    palette GIF, a BMP, WebP data named .png and a 1x1 image (tiny but valid: it trains, resized)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    kinds = [("RGB", "JPEG", "jpg"), ("RGB", "PNG", "png"), ("L", "PNG", "png"), ("RGBA", "PNG", "png"),
             ("CMYK", "JPEG", "jpg"), ("P", "GIF", "gif"), ("RGB", "BMP", "bmp"), ("RGB", "WEBP", "png")]
    for i in range(n):
        mode, fmt, ext = kinds[i % len(kinds)]
        p = folder / f"good_{i}.{ext}"
        p.write_bytes(_encode(good_image(rng, mode), fmt))
        made.append(p)
    tiny = folder / "one_pixel.png"
    tiny.write_bytes(_encode(good_image(rng, size=(1, 1)), "PNG"))
    return made + [tiny]
