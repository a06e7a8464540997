"""One writer per run directory (tflite_edge/run_lock.py): a second run is refused at once; a lock
left by a killed process is taken over."""
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import TINY
from tflite_edge import run_lock
from tflite_edge.errors import UserInputError

HOLD_SCRIPT = ("import sys, time\nfrom tflite_edge import run_lock\n"
               "with run_lock.hold(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n")


def _holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_on_a_held_directory_exits_2_at_once_naming_directory_and_pid(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    holder = _holder(run_dir)
    try:
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "run", str(recipe), "--out", str(run_dir)],
                              capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and str(run_dir) in err and f"pid {holder.pid}" in err, err
    assert "another --out" in err
    assert seconds < 5  # refused before TensorFlow is imported
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.lock"]  # the refused run wrote nothing


def test_a_lock_left_by_kill_9_is_taken_over(tmp_path):
    holder = _holder(tmp_path)
    with pytest.raises(UserInputError, match=f"pid {holder.pid}"):
        with run_lock.hold(tmp_path):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_lock.hold(tmp_path):  # the kernel dropped the dead holder's flock
        assert (tmp_path / run_lock.LOCK_FILE).read_text().strip() == str(os.getpid())
    assert (tmp_path / run_lock.LOCK_FILE).read_text() == ""  # released: no stale pid
    with run_lock.hold(tmp_path):  # and it can be taken again
        pass


def test_the_lock_is_not_reentrant_within_a_process(tmp_path):
    """Two runs of one process on one directory (a notebook running a cell twice in threads) are
    refused too: flock locks belong to the open file, not the process."""
    with run_lock.hold(tmp_path):
        with pytest.raises(UserInputError, match=f"pid {os.getpid()}"):
            with run_lock.hold(tmp_path):
                pass
