import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tflite_edge.errors import UserInputError
from tflite_edge.recipe import (FORMATS, DataSpec, apply_overrides, load_recipe, validate_dict)

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert recipe.name


def _error(d) -> str:
    with pytest.raises(UserInputError) as e:
        validate_dict(d)
    return str(e.value)


def test_typo_names_path_and_suggests(tiny_dict):
    tiny_dict["train"]["epocs"] = 3
    assert "train.epocs: unknown key (did you mean 'epochs'?)" in _error(tiny_dict)


def test_typo_inside_dataset_section_drops_the_tag(tiny_dict):
    tiny_dict["data"]["trian_samples"] = 3
    assert "data.trian_samples: unknown key (did you mean 'train_samples'?)" in _error(tiny_dict)


def test_typo_in_optimize_entry(tiny_dict):
    tiny_dict["optimize"] = [{"prune": {"sparsity": 0.5}}, {"cluster": {"clusers": 8}}]
    assert "optimize[1].cluster.clusers: unknown key (did you mean 'clusters'?)" in _error(tiny_dict)


def test_unknown_technique_suggests(tiny_dict):
    tiny_dict["optimize"] = [{"prnue": {}}]
    msg = _error(tiny_dict)
    assert "optimize[0]" in msg and "did you mean 'prune'" in msg


def test_wrong_type_and_range(tiny_dict):
    tiny_dict["train"]["epochs"] = "many"
    tiny_dict["model"]["width"] = -1.0
    msg = _error(tiny_dict)
    assert "train.epochs: Input should be a valid integer" in msg
    assert "model.width: Input should be greater than 0" in msg


def test_unknown_model_and_dataset_suggest(tiny_dict):
    tiny_dict["model"]["name"] = "mobilenetv2"
    tiny_dict["data"]["dataset"] = "shape"
    msg = _error(tiny_dict)
    assert "did you mean 'mobilenet_v2'" in msg and "did you mean 'shapes'" in msg


def test_cross_field_order_rule(tiny_dict):
    tiny_dict["optimize"] = [{"qat": {}}, {"cluster": {}}]
    assert "after 'qat'" in _error(tiny_dict)


def test_sparsity_and_clusters_out_of_range(tiny_dict):
    tiny_dict["optimize"] = [{"prune": {"sparsity": 1.0}}, {"cluster": {"clusters": 1}}]
    msg = _error(tiny_dict)
    assert "optimize[0].prune.sparsity" in msg and "optimize[1].cluster.clusters" in msg


def test_recipe_is_frozen(tiny_dict):
    r = validate_dict(tiny_dict)
    with pytest.raises(Exception):
        r.train.epochs = 5


def test_overrides_parse_yaml_values(tiny_dict):
    out = apply_overrides(tiny_dict, ["train.epochs=7", "convert.formats=[int8]", "model.width=0.5"])
    r = validate_dict(out)
    assert (r.train.epochs, r.convert.formats, r.model.width) == (7, ["int8"], 0.5)
    assert tiny_dict["train"]["epochs"] == 1  # the input is not mutated


def test_exponent_without_dot_is_a_number(tmp_path, tiny_dict):
    """YAML 1.1 reads `1e-4` as a string; recipes and --set read it as the number users mean."""
    import yaml

    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(tiny_dict).replace("tensorboard: false", "tensorboard: false\n  learning_rate: 1e-4"))
    assert load_recipe(p).train.learning_rate == 1e-4
    r = load_recipe(p, ["train.learning_rate=2e-05", "optimize=[{qat: {learning_rate: 3E-5}}]"])
    assert r.train.learning_rate == 2e-5 and r.optimize[0].qat.learning_rate == 3e-5
    assert load_recipe(p, ["name=1e4x"]).name == "1e4x"


def test_override_typo_is_caught_by_schema(tiny_dict):
    out = apply_overrides(tiny_dict, ["train.epohcs=2"])
    assert "did you mean 'epochs'" in _error(out)


@pytest.mark.parametrize("bad", ["train.epochs", "=3", "train.epochs[3]=1"])
def test_malformed_overrides(tiny_dict, bad):
    with pytest.raises(UserInputError):
        apply_overrides(tiny_dict, [bad])


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ndata: [unclosed\n")
    with pytest.raises(UserInputError, match="bad.yaml: line"):
        load_recipe(p)


def test_dataset_union_matches_registry():
    from tflite_edge.data import DATASETS

    members = typing.get_args(typing.get_args(DataSpec)[0])
    tags = {typing.get_args(m.model_fields["dataset"].annotation)[0] for m in members}
    assert tags == set(DATASETS.names())


def test_formats_match_converter_registry():
    from tflite_edge.export import CONVERTERS

    assert set(FORMATS) == set(CONVERTERS.names())


def test_validate_does_not_import_tensorflow():
    code = ("import sys; from tflite_edge.cli import main; rc = main(['validate', 'recipes/quickstart.yaml']);"
            "assert rc == 0; assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_schema_command_prints_json_schema(capsys):
    from tflite_edge.cli import main

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "optimize" in schema["properties"]


def test_a_format_is_declared_once_with_its_properties():
    from tflite_edge.export import CONVERTERS, static_batch
    from tflite_edge.formats import FORMATS as DECLARED, NEEDS_CALIBRATION, formats_for

    assert set(DECLARED.names()) == set(CONVERTERS.names()) == set(FORMATS)
    assert [f for f in FORMATS if static_batch(f)] == ["edgetpu"]
    assert "dynamic" not in NEEDS_CALIBRATION and "int8" in NEEDS_CALIBRATION
    assert "int16x8" not in formats_for("detection") and set(formats_for("classification")) == set(FORMATS)
