"""`tflite-edge convert` writes what `run` writes: TFLite Model Metadata (labels, normalisation)
and the `serving_default` signature (`image` -> `probs`), so `predict` needs no flags."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tflite_edge.metadata import read_metadata

LABELS = ["cat", "dog", "fox"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tflite_edge.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A classifier built outside the toolkit (it normalises its own input), images, labels."""
    from PIL import Image

    from tflite_edge import compat

    k = compat.keras()
    root = tmp_path_factory.mktemp("user")
    i = k.Input((12, 12, 3))
    x = k.layers.Rescaling(1 / 255.0)(i)
    x = k.layers.Conv2D(4, 3, activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    k.Model(i, k.layers.Dense(3, activation="softmax")(x)).save(root / "pets.keras")
    i = k.Input((12, 12, 3))
    x = k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(4, 3)(i))
    k.Model(i, k.layers.Dense(3, activation="softmax")(x)).save(root / "plain.keras")
    (root / "photos").mkdir()
    rng = np.random.default_rng(0)
    for n in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "photos" / f"{n}.png")
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return root


def test_convert_int8_with_labels_opens_in_predict_without_flags(user_files, tmp_path):
    proc = cli("convert", user_files / "pets.keras", "--format", "int8", "--labels", user_files / "labels.txt",
               "--calibration", user_files / "photos", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Rescaling" in proc.stderr  # says where the normalisation came from
    model = tmp_path / "pets_int8.tflite"
    meta = read_metadata(model)
    assert meta["labels"] == LABELS and meta["name"] == "pets"
    assert meta["inputs"][0]["mean"] == [0.0] * 3 and meta["inputs"][0]["std"] == [1.0] * 3

    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(model)).get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["image"], "outputs": ["probs"]}}

    proc = cli("predict", model, user_files / "photos" / "0.png", "--json", "--top-k", "3")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["preprocessing"]["source"] == "metadata"
    assert sorted(p["label"] for p in result["results"][0]["top_k"]) == sorted(LABELS)
    proc = cli("predict", model, user_files / "photos" / "0.png", "--raw")  # would feed it wrong values
    assert proc.returncode == 2 and "--raw" in proc.stderr and "metadata" in proc.stderr


def test_python_convert_of_an_in_memory_model_with_mean_std(user_files, tmp_path):
    import tflite_edge as te
    from tflite_edge import compat

    model = compat.keras().models.load_model(user_files / "plain.keras")
    made = te.convert(model, "float32", out=tmp_path, labels=LABELS, mean=127.5, std=127.5, name="plain", log=None)
    assert [a.path for a in made] == [str(tmp_path / "plain_float32.tflite")] and made[0].metadata
    meta = read_metadata(tmp_path / "plain_float32.tflite")
    assert meta["labels"] == LABELS and meta["inputs"][0]["mean"] == [127.5] * 3
    with pytest.raises(te.UserInputError, match="2 label"):
        te.convert(model, "float32", out=tmp_path, labels=["a", "b"], log=None)
