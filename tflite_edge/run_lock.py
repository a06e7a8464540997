"""One writer per run directory: an exclusive flock on RUN_DIR/run.lock for the whole run.

flock, not a pid file: the kernel drops the lock when its holder dies, however it dies (kill -9
included), so a resumed run never has to judge whether a recorded pid is stale. The file holds
the holder's pid only so that the refusal can name it. The descriptor is close-on-exec (Python's
default), so benchmark subprocesses never inherit the lock and outlive it.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import UserInputError

LOCK_FILE = "run.lock"


def _holder(fd: int) -> str:
    """The pid the holder wrote; it writes just after locking, so wait a moment for it."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text
        time.sleep(0.05)
    return "unknown"


@contextmanager
def hold(run_dir: Path):
    """Hold the run directory's lock, or raise UserInputError (exit 2) naming the holder at once."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserInputError(f"{run_dir}: another tflite-edge run (pid {_holder(fd)}) is writing this run "
                                 "directory; wait for it to finish, or give this run another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: no pid left to mislead a reader
    finally:
        os.close(fd)  # closing drops the flock
