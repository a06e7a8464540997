"""Atomic file writes: write beside the target, fsync, rename. A crash never leaves a half file."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

# Read once at import (os.umask can only be read by setting it, which races with other threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path in the same folder (same suffix); renamed onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() gives
        os.replace(tmp, path)
    except Exception as e:
        from . import disk

        if disk.is_full(e):  # the target keeps its earlier content; the partial file goes below
            raise disk.full_error(path) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_keras(model, path: Path) -> Path:
    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)


def remove_partials(folder: Path) -> int:
    """Delete temporary files that atomic_path left in `folder` when its process was killed."""
    removed = 0
    for p in Path(folder).rglob(".*.partial*"):
        if p.is_file():
            p.unlink()
            removed += 1
    return removed
