"""The public Python API: the README's Python section run as written, and what it promises."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_section() -> str:
    text = README.read_text()
    section = text[text.index("\n## Python\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_section_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_section(), "README.md#python", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    import tflite_edge as te

    assert out.splitlines()[0] == te.__version__ != "0+unknown"
    assert "notebook_int8" in out and "Edge TPU check: exported/trained_edgetpu_ready.tflite" in out
    made = sorted(p.name for p in (tmp_path / "exported").iterdir())
    assert made == ["trained_edgetpu_ready.tflite", "trained_int8.tflite"]
    from tflite_edge.metadata import read_metadata

    meta = read_metadata(tmp_path / "exported" / "trained_int8.tflite")  # labels went in with the file
    assert meta["labels"] == (tmp_path / "runs/notebook/labels.txt").read_text().split()


def test_version_flag_is_the_installed_version():
    from importlib.metadata import version

    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tflite-edge {version('tflite-edge')}"


def test_import_is_light_and_errors_are_exported():
    code = ("import sys, tflite_edge as te; te.__version__; te.UserInputError; te.run; te.edgetpu.check; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_load_recipe_takes_a_dict_and_says_what_is_wrong(tiny_dict):
    import tflite_edge as te

    assert te.load_recipe(tiny_dict, overrides={"train.epochs": 2}).train.epochs == 2
    tiny_dict["benchmark"] = 5
    with pytest.raises(te.UserInputError, match=r"benchmark: expected a mapping \(got 5\), e.g. benchmark: \{"):
        te.load_recipe(tiny_dict)


def test_predict_takes_paths_pil_images_and_arrays(tiny_run, tmp_path):
    from PIL import Image

    import tflite_edge as te
    from tflite_edge.predict import open_model

    _, run_dir, report = tiny_run
    model = run_dir / next(a["path"] for a in report["artifacts"] if a["format"] == "int8")
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    result = te.predict(model, [tmp_path / "x.png", Image.fromarray(pixels), pixels, pixels[None]])
    tops = [r.top_k[0].label for r in result.results]
    assert len(tops) == 4 and len(set(tops)) == 1 and "1. " in repr(result)
    assert open_model(model).classify(pixels, 1)[0]["label"] == tops[0]  # was an AttributeError
    with pytest.raises(te.UserInputError, match="0..255"):
        te.predict(model, pixels / 255.0)
