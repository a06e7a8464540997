"""Disk full (injected ENOSPC): one line naming the file and the free space, earlier outputs intact,
and the same command resumes once space is free."""
import builtins
import copy
import errno
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from conftest import TINY
from tflite_edge import atomic, cli


class _FullDisk:
    """atomic.py's open(), failing like a full disk for temporary files whose name starts with one
    of `prefixes` (the partial of report.json is `.report.XXXX.partial.json`)."""

    def __init__(self, prefixes):
        self.prefixes, self.hits = tuple(prefixes), []

    def __call__(self, file, mode="r", *args, **kwargs):
        f = builtins.open(file, mode, *args, **kwargs)
        if "w" in mode and Path(file).name.startswith(self.prefixes):
            self.hits.append(Path(file).name)
            f.write(b"half a file")  # some bytes land before the disk fills up
            f.close()
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return f


def _digests(run_dir: Path) -> dict:
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "run.lock"}


def test_enospc_on_an_artifact_then_on_the_report_then_resume(tmp_path, monkeypatch, capsys):
    d = copy.deepcopy(TINY)
    d["convert"] = {"formats": ["float32", "int8"], "calibration_samples": 16}
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(d))
    run_dir = tmp_path / "run"
    argv = ["run", str(recipe), "--out", str(run_dir)]

    full = _FullDisk([".tiny_int8."])  # the second artifact: the first is written by then
    monkeypatch.setattr(atomic, "open", full, raising=False)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(run_dir / "artifacts" / "tiny_int8.tflite") in err and "no space left on device" in err
    assert "free" in err and "rerun the same command" in err
    assert full.hits and not list(run_dir.rglob("*.partial*"))  # the half file is gone
    assert not (run_dir / "artifacts" / "tiny_int8.tflite").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [s for s, v in manifest["stages"].items() if v["done"]] == ["build", "train", "optimize"]
    before = _digests(run_dir)

    full.prefixes = (".report.",)  # space for the artifacts now; the report is what fails
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert str(run_dir / "report.json") in err and len(err.splitlines()) == 1
    after = _digests(run_dir)
    assert all(after[k] == v for k, v in before.items() if k != "manifest.json")  # earlier outputs intact
    assert not (run_dir / "report.json").exists() and (run_dir / "artifacts" / "tiny_int8.tflite").exists()
    assert json.loads((run_dir / "manifest.json").read_text())["stages"]["benchmark"]["done"]

    monkeypatch.setattr(atomic, "open", builtins.open, raising=False)  # space freed: the same command
    assert cli.main(argv) == 0
    rep = json.loads((run_dir / "report.json").read_text())
    assert [a["name"] for a in rep["artifacts"]] == ["tiny_float32", "tiny_int8"]
    assert all(_digests(run_dir)[k] == v for k, v in after.items() if k.startswith(("artifacts/", "checkpoints/")))


def test_enospc_outside_atomic_writes_is_one_line_too(monkeypatch, capsys, tmp_path):
    def fail(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "logs" / "events.out"))

    from tflite_edge.commands import list as list_command

    monkeypatch.setattr(list_command, "run", fail)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'logs' / 'events.out'}: no space left on device (")
    assert "free there" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("exc", [OSError(errno.EDQUOT, "Disk quota exceeded"),
                                 RuntimeError("Unable to synchronously write data (file write failed: errno = 28, "
                                              "error message = 'No space left on device')")])
def test_full_disk_is_recognised_in_its_other_shapes(exc):
    from tflite_edge.disk import is_full

    assert is_full(exc) and not is_full(OSError(errno.EACCES, "Permission denied"))
