"""Bad image files are found before training (tflite_edge/data/check.py): the held-out corrupt
corpus of tests/bad_images.py, the cache, and `data.bad_images` in a real run."""
import os
import resource
import subprocess
import sys

import numpy as np
import pytest
import yaml

import bad_images
from tflite_edge.data import check

REASONS = {"text.jpg": "not an image", "truncated.jpg": "truncated", "empty.png": "empty file",
           "bad_crc.png": "checksum", "bomb.png": "400,000,000 pixels, over the 89,478,485-pixel limit",
           "tiff_as.png": "TIFF data"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    return bad_images.write_bad_files(root / "bad", rng), bad_images.write_good_files(root / "good", rng, 8)


def test_every_bad_file_is_named_with_its_reason_and_every_good_one_passes(corpus):
    bad, good = corpus
    assert set(REASONS) == set(bad_images.BAD)
    for name, path in bad.items():
        assert REASONS[name] in (check.check_file(str(path)) or ""), name
    for path in good:  # grayscale, RGBA, CMYK, palette GIF, BMP, WebP named .png, 1x1
        assert check.check_file(str(path)) is None, path.name


def test_the_check_agrees_with_the_decoder_training_uses(corpus):
    """Whatever passes, tf.io.decode_image decodes; whatever fails (but the bomb, which must never
    reach it), it refuses: the check stands in for training's own decoder."""
    from tflite_edge import compat

    tf = compat.tf()
    bad, good = corpus

    def decodes(path):
        try:
            tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
            return True
        except tf.errors.InvalidArgumentError:
            return False

    assert all(decodes(p) for p in good)
    assert not any(decodes(p) for name, p in bad.items() if name != "bomb.png")


def test_a_decompression_bomb_is_refused_from_its_header(corpus):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "pixel limit" in check.check_file(str(corpus[0]["bomb.png"]))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100  # decoding 20000x20000 RGB would take 1,200 MB


def test_verdicts_are_cached_by_size_and_mtime(corpus, tmp_path, monkeypatch):
    bad, good = corpus
    paths = [str(p) for p in good] + [str(p) for p in bad.values()]
    cache = tmp_path / check.CACHE_FILE
    first = check.check_files(paths, cache)
    assert set(first) == {str(p) for p in bad.values()}
    calls = []
    real = check.check_file
    monkeypatch.setattr(check, "check_file", lambda p: calls.append(p) or real(p))
    assert check.check_files(paths, cache) == first and calls == []  # a resume decodes nothing again
    os.utime(good[0], ns=(0, 10 ** 18))  # a changed file is checked again
    assert check.check_files(paths, cache) == first and calls == [str(good[0])]


def _folder_recipe(tmp_path, **data):
    rng = np.random.default_rng(1)
    root = tmp_path / "photos"
    for cls in ("cats", "dogs"):
        bad_images.write_good_files(root / cls, rng, 6)
    bad_images.write_bad_files(root / "cats", rng)
    d = {"name": "folder", "seed": 0,
         "data": {"dataset": "image_folder", "path": str(root), "test_fraction": 0.3, "batch_size": 4, **data},
         "model": {"name": "plain_cnn", "width": 0.25, "input_size": 16},
         "train": {"epochs": 1, "steps_per_epoch": 2, "tensorboard": False},
         "convert": {"formats": ["float32"]},
         "benchmark": {"runs": 2, "warmup": 0, "warmup_min_s": 0.0, "processes": 1}}
    recipe = tmp_path / "folder.yaml"
    recipe.write_text(yaml.safe_dump(d))
    return recipe


def test_bad_images_stop_a_run_before_training_naming_them(tmp_path):
    recipe = _folder_recipe(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tflite_edge.cli", "run", str(recipe), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "Traceback" not in proc.stderr and "Graph execution" not in proc.stderr
    assert "6 image file(s) cannot be used" in err[0] and "data.bad_images: skip" in err[0]
    assert sum(name in err[0] for name in bad_images.BAD) == check.SHOWN and "and 1 more" in err[0]
    assert "[train]" not in proc.stdout


def test_skip_trains_on_the_rest_and_the_report_counts_them(tmp_path):
    from tflite_edge.recipe import load_recipe
    from tflite_edge.run import run_recipe

    recipe = load_recipe(_folder_recipe(tmp_path, bad_images="skip"))
    report = run_recipe(recipe, tmp_path / "r", log=lambda *a: None)
    assert report["data_check"]["skipped"] == 6 and report["data_check"]["images"] == 2 * 7 + 6
    assert {os.path.basename(b["path"]) for b in report["data_check"]["bad_files"]} == set(bad_images.BAD)
    assert 0 < report["keras"]["test_samples"] < 20 * 0.3
    assert "Skipped" in (tmp_path / "r" / "report.md").read_text()


def test_voc_lists_every_faulty_annotation_and_checks_its_images(tmp_path):
    """Detection datasets get both: all faulty annotation files in one line, and the image check
    (a JPEG holding text is named; with skip it is dropped and counted in annotation_fixes)."""
    import shutil
    from pathlib import Path

    from tflite_edge.data import load_dataset
    from tflite_edge.errors import UserInputError
    from tflite_edge.recipe.data import VocData

    data = Path(__file__).parent / "data" / "detection"
    bad_ann = tmp_path / "bad_ann"
    (bad_ann / "Annotations").mkdir(parents=True)
    for name in ("malformed.xml", "unknown_class.xml", "bad_number.xml"):
        shutil.copy(data / "voc_bad" / name, bad_ann / "Annotations")
    shutil.copytree(data / "voc" / "JPEGImages", bad_ann / "JPEGImages")
    spec = VocData.model_validate({"dataset": "voc", "path": str(bad_ann), "classes": ["cat", "dog"]})
    with pytest.raises(UserInputError, match=r"^3 annotation files need fixing: .*bad_number.xml:8.*malformed.xml:6"
                                             r".*unknown_class.xml:9"):
        load_dataset(spec, 0)

    voc = tmp_path / "voc"
    shutil.copytree(data / "voc", voc)
    victim = next(p for p in sorted((voc / "JPEGImages").glob("*.jpg")) if p.stat().st_size > 0)
    victim.write_bytes(b"not a jpeg at all")
    spec = VocData.model_validate({"dataset": "voc", "path": str(voc), "test_fraction": 0.4})
    with pytest.raises(UserInputError, match=f"1 image file\\(s\\) cannot be used: {victim}: not an image"):
        check.check_dataset(load_dataset(spec, 0), spec, tmp_path / "run")
    skip = spec.model_copy(update={"bad_images": "skip"})
    d = check.check_dataset(load_dataset(skip, 0), skip, tmp_path / "run")
    assert d.counts["images_skipped_undecodable"] == 1
    assert str(victim) not in list(d.train.images) + list(d.test.images)
