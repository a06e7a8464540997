"""Property tests: any recipe and any damaged model file gives a clean error (exit 2), never a traceback.

Examples are kept modest here so the suite stays fast; benchmarks/fuzz_counts.py runs the same
generators at scale (>= 5,000 recipes, >= 500 model files). Files that once broke something stay
in tests/corpus/ and are replayed on every run.
"""
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fuzzlib
from tflite_edge.errors import UserInputError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORPUS_RECIPES = sorted((fuzzlib.CORPUS / "recipes").glob("*.yaml"))
CORPUS_MODELS = sorted(p for p in (fuzzlib.CORPUS / "models").glob("*") if p.is_file())


@FAST
@given(raw=fuzzlib.recipes())
def test_any_recipe_dict_validates_or_raises_user_error(raw):
    assert fuzzlib.check_recipe_dict(raw) in ("ok", "user_error")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(raw=fuzzlib.recipes(), sets=fuzzlib.overrides)
def test_cli_validate_exits_0_or_2_with_one_line(tmp_path, raw, sets):
    fuzzlib.check_recipe_text(fuzzlib.to_yaml(raw), tmp_path / "r.yaml", sets)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200),
                      st.builds(lambda y, cut: y[:cut], st.just(fuzzlib.to_yaml(fuzzlib.BASE)),
                                st.integers(0, 600))))
def test_cli_validate_on_arbitrary_text(tmp_path, text):
    fuzzlib.check_recipe_text(text, tmp_path / "r.yaml")


@pytest.mark.parametrize("path", CORPUS_RECIPES, ids=lambda p: p.name)
def test_recipe_corpus(tmp_path, path):
    fuzzlib.check_recipe_text(path.read_bytes(), tmp_path / path.name)


def test_yaml_python_tags_are_refused_not_executed(tmp_path):
    from tflite_edge.recipe import load_recipe

    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n"
                 "data: {dataset: shapes}\nmodel: {name: plain_cnn}\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        load_recipe(p)
    assert not marker.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(["tiny_int8.tflite", "tiny_float32.tflite"]))
def test_damaged_tflite_is_a_user_error(tmp_path, seed, which):
    p = tmp_path / "m.tflite"
    p.write_bytes(fuzzlib.mutate_bytes((fuzzlib.SEEDS / which).read_bytes(), random.Random(seed)))
    assert fuzzlib.check_tflite(p) in ("ok", "user_error")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["zip", "bytes", "h5config", "h5bytes"]))
def test_damaged_keras_file_is_a_user_error(tmp_path, seed, kind):
    import shutil

    rng = random.Random(seed)
    if kind in ("zip", "bytes"):
        p = tmp_path / "m.keras"
        data = (fuzzlib.SEEDS / "tiny.keras").read_bytes()
        p.write_bytes(fuzzlib.mutate_keras_zip(data, rng) if kind == "zip" else fuzzlib.mutate_bytes(data, rng))
    else:
        p = tmp_path / "m.h5"
        if kind == "h5config":
            shutil.copyfile(fuzzlib.SEEDS / "tiny.h5", p)
            fuzzlib.mutate_h5_config(p, rng)
        else:
            p.write_bytes(fuzzlib.mutate_bytes((fuzzlib.SEEDS / "tiny.h5").read_bytes(), rng))
    assert fuzzlib.check_keras(p) in ("ok", "user_error")


@pytest.mark.parametrize("path", CORPUS_MODELS, ids=lambda p: p.name)
def test_model_corpus(path):
    assert fuzzlib.check_model_file(path) in ("ok", "user_error")


def test_interpreter_load_never_crashes_on_the_corpus(tmp_path):
    """The LiteRT interpreter runs native code: a damaged file must raise, not kill the process."""
    files = [p for p in CORPUS_MODELS if p.suffix == ".tflite"]
    rng = random.Random(7)
    for i in range(20):
        p = tmp_path / f"g{i}.tflite"
        p.write_bytes(fuzzlib.mutate_bytes((fuzzlib.SEEDS / "tiny_int8.tflite").read_bytes(), rng))
        files.append(p)
    counts = fuzzlib.check_interpreter(files)
    assert "crash" not in counts, counts["crash"]
    assert counts.get("user_error", 0) > 0


def test_cli_bench_on_a_damaged_model_exits_2(tmp_path, capsys):
    from tflite_edge.cli import main

    p = tmp_path / "cut.tflite"
    p.write_bytes((fuzzlib.SEEDS / "tiny_int8.tflite").read_bytes()[:5000])
    assert main(["bench", str(p), "--runs", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_convert_on_a_damaged_model_exits_2(tmp_path, capsys):
    from tflite_edge.cli import main

    p = tmp_path / "cut.keras"
    p.write_bytes((fuzzlib.SEEDS / "tiny.keras").read_bytes()[:3000])
    assert main(["convert", str(p), "--format", "float32", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a loadable Keras model" in err and len(err.splitlines()) == 1


def test_corpus_is_present():
    assert len(CORPUS_RECIPES) >= 10 and len(CORPUS_MODELS) >= 20
    assert json.loads((fuzzlib.CORPUS / "README.json").read_text())["generator"]
