"""Shared fixtures: one tiny end-to-end run that several test modules inspect."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import copy  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# The suite is a gate, so its property tests draw the same examples every run (a red CI names a
# change, not a lucky draw). `pytest --hypothesis-profile=explore` draws fresh ones, and
# benchmarks/fuzz_counts.py explores at scale; whatever they find goes into tests/corpus/.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"dataset": "shapes", "image_size": 16, "train_samples": 96, "test_samples": 48,
             "batch_size": 16},
    "model": {"name": "plain_cnn", "width": 0.25},
    "train": {"epochs": 1, "steps_per_epoch": 3, "tensorboard": False},
    "convert": {"formats": ["float32", "int8", "uint8_io", "edgetpu"], "calibration_samples": 16},
    "benchmark": {"runs": 5, "warmup": 1, "warmup_min_s": 0.0, "processes": 1},  # tests time nothing
}


@pytest.fixture
def tiny_dict():
    return copy.deepcopy(TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(recipe, run_dir, report) of one finished tiny run."""
    from tflite_edge.recipe import validate_dict
    from tflite_edge.run import run_recipe

    recipe = validate_dict(copy.deepcopy(TINY))
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    report = run_recipe(recipe, run_dir, log=lambda *a: None)
    return recipe, run_dir, report
