"""Disk full: one line naming the file and the free space, instead of a traceback.

An ENOSPC (or a quota's EDQUOT) while writing leaves every earlier output intact, since every
output is written atomically (atomic.py) and the manifest is updated after each stage: after
space is freed, the same command resumes from the last finished stage.
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Optional

from .errors import DiskFull

_CODES = (errno.ENOSPC, errno.EDQUOT)


def is_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the quota) is full; TensorFlow and h5py only say it in words."""
    return (isinstance(exc, OSError) and exc.errno in _CODES) or "No space left on device" in str(exc) \
        or "Disk quota exceeded" in str(exc)


def _free(path: Path) -> str:
    for p in (path, *path.parents):
        if p.exists():
            free = shutil.disk_usage(p).free
            return f"{free / 2 ** 20:,.1f} MiB free" if free < 2 ** 30 else f"{free / 2 ** 30:,.2f} GiB free"
    return "free space unknown"


def full_error(path: Optional[Path]) -> DiskFull:
    """The one-line error for a failed write to `path` (None: a file TensorFlow did not name)."""
    where = Path(path) if path else Path.cwd()
    return DiskFull(f"{path or 'a file'}: no space left on device ({_free(where)} there); free some space and "
                    "rerun the same command: the run resumes from its last finished stage")
