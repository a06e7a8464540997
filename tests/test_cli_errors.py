"""Bad input through the real command line: one line, the right exit code, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tflite_edge.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def assert_clean_error(proc, code, *fragments):
    assert proc.returncode == code, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err and err.startswith("error:"), err
    assert len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, err


def test_recipe_typo(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\ndata: {dataset: shapes}\nmodel: {name: plain_cnn}\ntrain: {epohcs: 2}\n")
    assert_clean_error(cli("validate", p), 2, "train.epohcs", "did you mean 'epochs'")


def test_missing_recipe_file():
    assert_clean_error(cli("validate", "nope.yaml"), 2, "nope.yaml", "not found")


def test_missing_dataset_path(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(f"name: x\ndata: {{dataset: fashion_mnist, path: {tmp_path}/none}}\n"
                 "model: {name: plain_cnn}\n")
    proc = cli("run", p, "--out", tmp_path / "run")
    assert_clean_error(proc, 2, "data.path", "apt-get install dataset-fashion-mnist")
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_model_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_bytes(b"\x00" * 64)
    assert_clean_error(cli("convert", bad, "--format", "float32", "--out", tmp_path / "o"), 2, "model.h5")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_truncated_tflite(tmp_path):
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40)
    assert_clean_error(cli("bench", cut, "--runs", "1"), 2, "cut.tflite")


@pytest.mark.parametrize("flags, says", [(("--threads", "one"), "--threads"),
                                         (("--processes", "0"), "--processes"),
                                         (("--warmup-min-secs", "-1"), "0 to 600 seconds")])
def test_bad_bench_flags(flags, says):
    proc = cli("bench", "x.tflite", *flags)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and says in proc.stderr


def test_convert_cli_with_calibration_folder(tmp_path):
    """A user's own .keras model and a folder of images -> int8 and float32 artifacts."""
    import numpy as np
    from PIL import Image

    code = ("from tflite_edge import compat; k = compat.keras(); i = k.Input((12, 12, 3));"
            "x = k.layers.Conv2D(4, 3)(i); x = k.layers.GlobalAveragePooling2D()(x);"
            f"k.Model(i, k.layers.Dense(2)(x)).save(r'{tmp_path / 'user.keras'}')")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    (tmp_path / "calib").mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), i * 60, np.uint8)).save(tmp_path / "calib" / f"{i}.png")
    proc = cli("convert", tmp_path / "user.keras", "--format", "float32,int8", "--calibration",
               tmp_path / "calib", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["user_float32.tflite", "user_int8.tflite"]
    proc = cli("convert", tmp_path / "user.keras", "--format", "int8", "--out", tmp_path / "out2")
    assert_clean_error(proc, 2, "--calibration")
