"""`tflite-edge predict`: preprocessing from the metadata (ours and the official writers'), labels,
top-k, detection boxes drawn, models without metadata, and bad input as one line with exit 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_metadata import GOLDEN, INFO, LABELS, MEAN, STD, tiny_classifier
from tflite_edge import cli
from tflite_edge.metadata import ModelInfo, add_metadata

ROOT = Path(__file__).resolve().parents[1]


def predict_json(capsys, *argv):
    code = cli.main(["predict", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(capsys, argv, *fragments):
    code = cli.main(["predict", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), (code, err)
    for f in fragments:
        assert f in err, err


@pytest.fixture
def image(tmp_path) -> Path:
    """A 16x16 RGB PNG: the model's own size, so no resizing blurs the comparison with Keras."""
    path = tmp_path / "in" / "sample.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    return path


def _keras_scores(path: Path, mean, std) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB"), np.float32)
    x = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return tiny_classifier()[0](x[None], training=False).numpy()[0]


@pytest.mark.parametrize("fmt, tolerance", [("float32", 1e-5), ("int8", 0.02)])
def test_classifier_uses_the_metadata_normalisation(tmp_path, capsys, image, fmt, tolerance):
    model = tmp_path / f"tiny_{fmt}.tflite"
    model.write_bytes(add_metadata(tiny_classifier()[1][fmt], INFO))
    result = predict_json(capsys, model, image)
    assert result["task"] == "classification" and result["preprocessing"]["source"] == "metadata"
    (r,) = result["results"]
    top = r["top_k"]
    assert len(top) == 3 and top[0]["label"] in LABELS  # --top-k 5 over 3 classes: all of them
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    assert abs(sum(t["score"] for t in top) - 1.0) < 0.02
    scores = np.array([next(t["score"] for t in top if t["label"] == name) for name in LABELS])
    expected = _keras_scores(image, MEAN, STD)
    assert np.allclose(scores, expected, atol=tolerance), (scores, expected)
    # the check can fail: the default normalisation gives other scores
    assert not np.allclose(expected, _keras_scores(image, [127.5] * 3, [127.5] * 3), atol=5 * tolerance)


def test_model_without_metadata_takes_flags_and_a_folder(tmp_path, capsys, image):
    model = tmp_path / "plain.tflite"
    model.write_bytes(tiny_classifier()[1]["float32"])
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(image.parent / "other.jpg")
    (image.parent / "notes.txt").write_text("not an image, skipped in a folder")
    result = predict_json(capsys, model, image.parent, "--labels", labels, "--mean", ",".join(map(str, MEAN)),
                          "--std", ",".join(map(str, STD)), "--top-k", "2")
    assert [Path(r["image"]).name for r in result["results"]] == ["other.jpg", "sample.png"]
    assert all(len(r["top_k"]) == 2 for r in result["results"])
    top = {t["label"]: t["score"] for t in result["results"][1]["top_k"]}
    expected = dict(zip(LABELS, _keras_scores(image, MEAN, STD)))
    assert all(abs(score - expected[label]) < 1e-5 for label, score in top.items())


def test_classifier_from_the_official_writer(capsys, image):
    result = predict_json(capsys, GOLDEN / "official_classifier_uint8.tflite", image)
    assert result["preprocessing"] == {"source": "metadata", "mean": [127.5] * 3, "std": [127.5] * 3,
                                       "input_dtype": "uint8"}
    top = result["results"][0]["top_k"]
    assert {t["label"] for t in top} == {"circle", "square"} and abs(sum(t["score"] for t in top) - 1) < 0.02


def test_text_output(tmp_path, capsys, image):
    model = tmp_path / "tiny.tflite"
    model.write_bytes(add_metadata(tiny_classifier()[1]["float32"], INFO))
    assert cli.main(["predict", str(model), str(image), "--top-k", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(image) and len(lines) == 2 and lines[1].split()[1] in LABELS


# ------------------------------------------------------------- detection
EXPECTED = [("circle", 0.9526, [0.1, 0.1, 0.4, 0.4]), ("square", 0.8176, [0.5, 0.35, 0.9, 0.85])]


def _ours(tmp_path) -> Path:
    """Our metadata on the detector whose outputs are in the converter's order."""
    path = tmp_path / "det.tflite"
    path.write_bytes(add_metadata((GOLDEN / "detector_float32.tflite").read_bytes(),
                                  ModelInfo(name="det", task="detection", labels=("circle", "square"))))
    return path


@pytest.mark.parametrize("which", ["ours", "official"])
def test_detector_prints_boxes_and_draws_them(tmp_path, capsys, which):
    model = _ours(tmp_path) if which == "ours" else GOLDEN / "official_detector_float32_op_order.tflite"
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(photo)
    result = predict_json(capsys, model, photo, "--out", tmp_path / "drawn")
    (r,) = result["results"]
    got = [(d["label"], round(d["score"], 4), d["box"]) for d in r["detections"]]
    assert [g[:2] for g in got] == [e[:2] for e in EXPECTED]  # the 0.18 box is under --threshold 0.5
    assert all(np.allclose(g[2], e[2], atol=1e-5) for g, e in zip(got, EXPECTED))
    drawn = Image.open(r["drawn"]).convert("RGB")
    assert Path(r["drawn"]).name == "photo_boxes.png" and drawn.size == (160, 120)
    pixels = np.asarray(drawn)
    # the circle's box spans x 16..64, y 12..48: its left edge is drawn, its inside is not
    assert (pixels[30, 14:19] != 200).any() and (pixels[35:45, 30:50] == 200).all()
    low = predict_json(capsys, model, photo, "--threshold", "0.1")
    assert len(low["results"][0]["detections"]) == 3 and low["results"][0]["drawn"] is None


def test_detector_without_metadata(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("circle\nsquare\n")
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photo)
    result = predict_json(capsys, GOLDEN / "detector_float32.tflite", photo, "--labels", labels, "--raw")
    assert [d["label"] for d in result["results"][0]["detections"]] == ["circle", "square"]


# ------------------------------------------------------------- bad input: one line, exit 2
def test_model_without_metadata_asks_for_labels_and_normalisation(capsys, image):
    assert_one_line_error(capsys, [GOLDEN / "detector_float32.tflite", image],
                          "no TFLite metadata", "--labels FILE", "--mean M --std S", "--raw")


def test_image_that_cannot_be_decoded(tmp_path, capsys, image):
    bad = tmp_path / "broken.png"
    bad.write_bytes(image.read_bytes()[:60])  # a PNG cut short
    assert_one_line_error(capsys, [GOLDEN / "official_classifier_uint8.tflite", bad], "broken.png",
                          "cannot decode the image")
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    assert_one_line_error(capsys, [GOLDEN / "official_classifier_uint8.tflite", text], "text.jpg",
                          "unknown image format")


def test_folder_without_images_and_missing_paths(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    model = GOLDEN / "official_classifier_uint8.tflite"
    assert_one_line_error(capsys, [model, tmp_path / "empty"], "empty: no ", "images in this folder")
    assert_one_line_error(capsys, [model, tmp_path / "nope.png"], "nope.png: no such image file or folder")
    assert_one_line_error(capsys, [tmp_path / "nope.tflite", tmp_path / "empty"], "nope.tflite: file not found")


def test_flag_mistakes(tmp_path, capsys, image):
    model = GOLDEN / "official_classifier_uint8.tflite"
    assert_one_line_error(capsys, [model, image, "--mean", "1"], "--mean and --std go together")
    assert_one_line_error(capsys, [model, image, "--mean", "1,2", "--std", "1,2"], "give 1 or 3 values")
    assert_one_line_error(capsys, [model, image, "--raw", "--mean", "1", "--std", "1"], "exclude each other")
    wrong = tmp_path / "labels.txt"
    wrong.write_text("a\nb\nc\n")
    assert_one_line_error(capsys, [model, image, "--labels", wrong], "outputs [[1, 2]] but 3 labels")


def test_real_process_exit_code(tmp_path, image):
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "predict",
                           str(GOLDEN / "detector_float32.tflite"), str(image)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
