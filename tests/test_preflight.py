"""`validate` checks what it can without TensorFlow: the files a recipe names, readable type
errors; and every recipe snippet of the READMEs is a valid recipe (or part of one)."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from tflite_edge.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASE = {"name": "snippet", "data": {"dataset": "shapes"}, "model": {"name": "plain_cnn"}}
SECTIONS = "name|task|data|model|train|convert|evaluate|benchmark|teacher|optimize|adaptive|detector|search"


def _snippets():
    for doc in ("README.md", "converters/README.md"):
        text = (ROOT / doc).read_text()
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            yield doc, block
            # a commented key is an option shown to be uncommented: valid where it stands too
            uncommented = re.sub(r"(?m)^(\s*)# (\w+:.*)$", r"\1\2", block)
            if uncommented != block:
                yield doc, uncommented
        for inline in re.findall(rf"`((?:{SECTIONS}): [\[{{][^`]*)`", text):
            yield doc, inline


SNIPPETS = list(_snippets())


def test_the_readmes_have_snippets():
    assert len(SNIPPETS) >= 9 and any(doc == "converters/README.md" for doc, _ in SNIPPETS)


@pytest.mark.parametrize("doc, snippet", SNIPPETS, ids=[f"{d}:{i}" for i, (d, _) in enumerate(SNIPPETS)])
def test_readme_snippet_is_a_valid_recipe(doc, snippet):
    from tflite_edge.recipe import validate_dict

    part = yaml.safe_load(snippet)
    raw = {**copy.deepcopy(BASE), **part}  # a snippet's sections replace the base's whole
    if raw.get("task") == "detection" and "detector" not in raw:
        raw["detector"] = {"name": "ssdlite"}
    validate_dict(raw, source=doc)


def _recipe(tmp_path, **sections) -> Path:
    raw = {**copy.deepcopy(BASE), **sections}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _validate(capsys, path) -> tuple[int, str]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("sections, says", [
    ({"model": {"path": "nope.keras"}}, "model.path: nope.keras not found"),
    ({"model": {"path": "notes.txt"}}, "model.path: notes.txt has suffix '.txt'"),
    ({"model": {"path": "folder"}}, "model.path: folder is a folder without saved_model.pb"),
    ({"model": {"name": "plain_cnn", "weights": "gone.h5"}}, "model.weights: gone.h5 not found"),
    ({"data": {"dataset": "image_folder", "path": "no_such_dir"}}, "data.path: no_such_dir not found"),
    ({"data": {"dataset": "image_folder", "path": "notes.txt"}}, "data.path: notes.txt is a file, not a folder"),
    ({"data": {"dataset": "image_folder", "path": "folder"}}, "data.path: folder has no class sub-folders"),
    ({"data": {"dataset": "voc", "path": "folder", "classes": ["a"]}, "task": "detection",
      "detector": {"name": "ssdlite"}}, "data.path: folder has no Annotations/ folder"),
    ({"data": {"dataset": "fashion_mnist", "path": "missing_fm"}}, "data.path: missing_fm not found"),
    ({"teacher": {"sources": [{"path": "teacher.keras"}]}}, "teacher.sources[0].path: teacher.keras not found"),
    ({"teacher": {"sources": [{"recipe": "t.yaml"}]}}, "teacher.sources[0].recipe: t.yaml not found"),
    ({"benchmark": {"targets": ["host", "android"]}}, "benchmark.android_binary is not set"),
    ({"benchmark": {"targets": ["android:abc"], "android_binary": "bm"}}, "benchmark.android_binary: bm not found"),
])
def test_validate_exits_2_naming_the_missing_path(tmp_path, monkeypatch, capsys, sections, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    code, err = _validate(capsys, _recipe(tmp_path, **sections))
    assert code == 2 and says in err and len(err.splitlines()) == 1, err


def test_validate_accepts_what_is_there(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowers" / "rose").mkdir(parents=True)
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "bm").write_bytes(b"")
    path = _recipe(tmp_path, data={"dataset": "image_folder", "path": "flowers"}, model={"path": "saved"},
                   benchmark={"targets": ["android"], "android_binary": "bm"})
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_validate_and_schema_over_a_closed_pipe_stay_quiet():
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m tflite_edge.cli schema | head -1", shell=True,
                          capture_output=True, text=True)
    assert proc.stdout == "{\n" and proc.stderr == ""
