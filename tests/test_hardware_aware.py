"""Issue 22: per-op profiles, mixed precision chosen on measured latency, the recommended artifact.

Timings are never asserted: the search logic is tested with a deterministic stand-in for the
target's clock, the profiler on what it reports (which ops ran where), the report on its choices.
"""
from pathlib import Path

import numpy as np
import pytest

from tflite_edge.bench import op_profile
from tflite_edge.recommend import int8_warnings, markdown, recommend

GOLDEN = Path(__file__).parent / "golden"


# ---------------------------------------------------------------- the profile's two sources
def test_litert_summary_text_parses_with_softmax_outside_the_delegate():
    """LiteRT's own summary (LiteRtGetProfileSummary, space-aligned) of the quickstart's int8 model."""
    p = op_profile.from_summary((GOLDEN / "litert_profiler" / "quickstart_int8_summary.txt").read_text())
    assert p is not None and len(p["run_order"]) > 50
    assert p["coverage"]["cpu_ops"] == {"SOFTMAX": 1}
    assert all(r["where"] == "delegate" for r in p["run_order"] if r["node_type"].startswith("Delegate/"))
    assert abs(sum(r["pct"] for r in p["by_node_type"]) - 100.0) < 0.5


def test_benchmark_model_text_of_a_cpu_only_run_puts_every_op_on_the_cpu():
    p = op_profile.from_summary((GOLDEN / "benchmark_model" / "riscv_cpu_op_profiling_old_format.txt").read_text())
    assert len(p["run_order"]) == 31 and all(r["where"] == "cpu" for r in p["run_order"])
    assert p["coverage"]["cpu_ops"]["CONV_2D"] == 15
    assert op_profile.top_types(p, 1)[0]["node_type"] == "CONV_2D"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A float and an int8 classifier ending in SOFTMAX (XNNPACK leaves the int8 SOFTMAX out)."""
    from tflite_edge import compat
    from tflite_edge.export import convert_keras

    keras = compat.keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((48, 48, 3))  # big enough that each op takes microseconds (events are whole µs)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu6", name="block1_conv")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu6", name="block1_dw")(x)
    x = L.Conv2D(64, 1, activation="relu6", name="block2_conv")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    out = L.Dense(4, activation="softmax", name="logits")(x)
    model = keras.Model(inp, out)
    calib = np.random.default_rng(0).uniform(-1, 1, (32, 48, 48, 3)).astype(np.float32)
    folder = tmp_path_factory.mktemp("tiny")
    paths = {}
    for fmt in ("float32", "int8"):
        paths[fmt] = folder / f"tiny_{fmt}.tflite"
        paths[fmt].write_bytes(convert_keras(model, fmt, calib))
    return paths, calib


def test_host_profiler_reports_ops_and_delegate_coverage(tiny_models):
    from tflite_edge.bench.litert_profile import profile_host

    paths, _ = tiny_models
    p8 = profile_host(paths["int8"], runs=30, warmup=2, warmup_min_s=0)
    p32 = profile_host(paths["float32"], runs=30, warmup=2, warmup_min_s=0)
    assert p8["coverage"]["cpu_ops"] == {"SOFTMAX": 1} and p8["coverage"]["partitions"] >= 1
    assert p8["coverage"]["delegated"] == p8["coverage"]["nodes"] - 1
    assert p32["coverage"]["cpu_ops"] == {} and p32["coverage"]["partitions"] == 1
    for p in (p8, p32):
        assert p["runs"] > 0 and p["invoke_ms_p50"] > 0 and p["ops_ms"] > 0
        assert any(r["node_type"].startswith("Delegate/") for r in p["run_order"])


def test_profile_of_a_damaged_file_is_an_error_naming_it(tmp_path, tiny_models):
    from tflite_edge.bench.litert_profile import profile_host
    from tflite_edge.errors import EdgeError

    bad = tmp_path / "cut.tflite"
    bad.write_bytes(tiny_models[0]["int8"].read_bytes()[:300])
    with pytest.raises(EdgeError, match="cut.tflite"):
        profile_host(bad, runs=5, warmup=1, warmup_min_s=0)


def test_profile_on_a_target_that_cannot_profile_says_which_can():
    from tflite_edge.bench import BenchOptions, run_target
    from tflite_edge.errors import UserInputError

    with pytest.raises(UserInputError, match="host, android"):
        run_target("coral", "m.tflite", BenchOptions(profile=True))


# ---------------------------------------------------------------- the engine and the search
def test_units_and_plans_give_each_layer_its_precision(tiny_models):
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge.mixed.engine import MixedQuantizer, units_of

    paths, calib = tiny_models
    float_bytes = paths["float32"].read_bytes()
    units = units_of(float_bytes, "block")
    assert [u.name for u in units] == ["block1", "block2", "pool", "logits", "output"]
    q = MixedQuantizer(float_bytes, units, calib[:8])
    plan = {"block1": "int8", "block2": "float32", "pool": "float32", "logits": "int16x8", "output": "float32"}
    interp = Interpreter(model_content=q.quantize(plan))
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    kinds = {}
    for op in interp._get_ops_details():
        kinds.setdefault(op["op_name"], set()).add(tensors[op["outputs"][0]]["dtype"].__name__)
    assert "int8" in kinds["CONV_2D"] and "float32" in kinds["CONV_2D"]  # block1 int8, block2 float
    assert kinds["FULLY_CONNECTED"] == {"int16"} and kinds["SOFTMAX"] == {"float32"}
    assert interp.get_input_details()[0]["dtype"] == np.float32  # float I/O like the int8 format
    with pytest.raises(Exception, match="no layer or block named 'nope'"):
        q.quantize({"nope": "int8"})


def fake_search(tiny_models, tmp_path, bound, precisions=("int8", "int16x8", "float32"), sensitive=("logits",),
                profile=None, confidence=None, images=100):
    """The real engine and search, with a stand-in clock and scorer so decisions can be checked:
    latency = 1 ms per float op, 0.4 per int8 op, 3 per int16 op, 0.3 per precision change along
    the graph; int8 on a sensitive unit loses 3 of 100 images, int16x8 one."""
    from tflite_edge.mixed.engine import MixedQuantizer, units_of
    from tflite_edge.mixed.search import MixedSearch

    paths, calib = tiny_models
    float_bytes = paths["float32"].read_bytes()
    units = units_of(float_bytes)
    q = MixedQuantizer(float_bytes, units, calib[:8])
    quantize, plans, last = q.quantize, {}, {}

    def recording_quantize(plan, float_ops=frozenset()):
        last["plan"] = dict(plan)
        return quantize(plan, float_ops)

    q.quantize = recording_quantize
    y = np.arange(images) % 4

    def predict(path):
        plan = plans.setdefault(Path(path).name, last["plan"])  # scored right after it is written
        wrong = sum(3 if plan.get(u) == "int8" else 1 if plan.get(u) == "int16x8" else 0 for u in sensitive)
        probs = np.eye(4)[y].astype(np.float32)
        probs[:wrong] = np.roll(probs[:wrong], 1, axis=1)
        return probs

    def time_ms(path):
        plan, cost, previous = plans[Path(path).name], 0.0, None
        for u in units:
            p = plan.get(u.name, "float32")
            cost += len(u.ops) * {"float32": 1.0, "int8": 0.4, "int16x8": 3.0}[p]
            cost += 0.3 if previous not in (None, p) else 0.0
            previous = p
        return cost

    search = MixedSearch(q, y, predict, time_ms, tmp_path / "cands", bound, precisions, max_candidates=40,
                         min_gain=0.01, log=lambda *_: None, profile=profile, confidence=confidence)
    return search.run()


def test_search_keeps_a_sensitive_layer_above_int8_and_the_rest_fast(tiny_models, tmp_path):
    result = fake_search(tiny_models, tmp_path, bound=0.02)
    assert result.met and result.chosen.drop <= 0.02
    plan = result.chosen.plan
    assert plan["logits"] != "int8"  # int8 there would cost 3 points > 2
    assert plan["block1"] == "int8" and plan["block2"] == "int8"  # the cheap, insensitive units go int8
    uniform_int8 = next(c for c in result.candidates if c.label == "all int8")
    assert uniform_int8.drop == pytest.approx(0.03)
    chosen_ok = [c for c in result.candidates if c.latency_ms is not None and c.drop is not None and c.drop <= 0.02]
    assert result.chosen.latency_ms == min(c.latency_ms for c in chosen_ok)
    assert any(c.pareto for c in result.candidates) and result.chosen.pareto


def test_search_with_a_confidence_holds_the_bound_not_the_drop_seen(tiny_models, tmp_path):
    """int8 on the sensitive layer loses 3 of 1,000 images: within a 0.4-point bound as seen, but its
    95% upper bound (margin.py: 0.67 point) is not, so that layer stays float (int16x8 is slower)."""
    seen = fake_search(tiny_models, tmp_path / "seen", bound=0.004, images=1000)
    held = fake_search(tiny_models, tmp_path / "held", bound=0.004, confidence=0.95, images=1000)
    assert seen.chosen.plan["logits"] == "int8" and seen.chosen.drop == pytest.approx(0.003)
    assert held.chosen.plan["logits"] == "float32" and held.chosen.drop == 0
    assert held.chosen.drop_bound <= 0.004 and held.chosen.latency_ms > seen.chosen.latency_ms
    assert all(c.drop_bound is not None for c in held.candidates if c.drop is not None)


def test_search_that_no_candidate_meets_returns_the_closest_and_says_so(tiny_models, tmp_path):
    result = fake_search(tiny_models, tmp_path, bound=0.0, precisions=("int8", "int16x8"))
    assert not result.met and result.chosen is not None
    allowed = [c for c in result.candidates if c.latency_ms is not None and "float32" not in c.plan.values()]
    assert result.chosen.drop == min(c.drop for c in allowed) == pytest.approx(0.01)  # logits at int16x8


def test_search_seeds_int8_with_the_ops_that_fell_out_of_the_delegate_kept_float(tiny_models, tmp_path):
    """The real profile of all-int8 on this host says SOFTMAX ran outside XNNPACK: one candidate is
    all int8 with SOFTMAX float, and its SOFTMAX really is float."""
    from ai_edge_litert.interpreter import Interpreter

    from tflite_edge.bench.litert_profile import profile_host

    result = fake_search(tiny_models, tmp_path, bound=0.05,
                         profile=lambda path: profile_host(path, runs=20, warmup=1, warmup_min_s=0))
    seed = next(c for c in result.candidates if c.float_ops)
    assert seed.float_ops == ("SOFTMAX",) and set(seed.plan.values()) == {"int8"}
    interp = Interpreter(model_path=seed.path)
    tensors = interp.get_tensor_details()
    softmax = next(o for o in interp._get_ops_details() if o["op_name"] == "SOFTMAX")
    conv = next(o for o in interp._get_ops_details() if o["op_name"] == "CONV_2D")
    assert tensors[softmax["outputs"][0]]["dtype"] == np.float32 and tensors[conv["outputs"][0]]["dtype"] == np.int8


# ---------------------------------------------------------------- the choice in the report
def _report(f32, i8, mixed=None, gates=()):
    arts = [{"name": "m_float32", "format": "float32", "benchmark": {"host": {"latency_ms_p50": f32}}},
            {"name": "m_int8", "format": "int8", "benchmark": {"host": {"latency_ms_p50": i8}}}]
    if mixed is not None:
        arts.append({"name": "m_mixed", "format": "mixed", "benchmark": {"host": {"latency_ms_p50": mixed}}})
    return {"artifacts": arts, "gates": list(gates)}


def test_recommended_is_the_fastest_artifact_that_passes_every_gate():
    rep = _report(0.12, 0.15, 0.10, gates=[{"name": "max_accuracy_drop[m_mixed]", "passed": False}])
    rec = recommend(rep)["host"]
    assert rec["artifact"] == "m_float32"  # mixed is faster but failed its gate
    assert rec["speedup_over"]["m_int8"] == pytest.approx(0.15 / 0.12)
    assert rec["left_out"] == {"m_mixed": ["max_accuracy_drop"]}


def test_int8_slower_than_float32_is_a_warning_naming_ops():
    rep = _report(0.12, 0.15)
    rep["artifacts"][1]["benchmark"]["host"]["op_profile"] = op_profile.from_summary(
        (GOLDEN / "litert_profiler" / "quickstart_int8_summary.txt").read_text())
    rep["recommended"], rep["warnings"] = recommend(rep), int8_warnings(rep)
    assert len(rep["warnings"]) == 1
    assert "int8 is slower than float32 on host" in rep["warnings"][0] and "SOFTMAX" in rep["warnings"][0]
    assert not int8_warnings(_report(0.15, 0.12))
    text = "\n".join(markdown(rep))
    assert "**host**: `m_float32`" in text and "Per-op profile" in text


# ---------------------------------------------------------------- recipe rules
@pytest.mark.parametrize("change, message", [
    ({"convert": {"formats": ["float32", "int8", "edgetpu"], "mixed": {}}}, "Edge TPU compiler maps only full int8"),
    ({"convert": {"formats": ["int8"], "mixed": {}}}, "starts from the float32 artifact"),
    ({"convert": {"formats": ["float32"], "mixed": {"target": "android"}}}, "not in benchmark.targets"),
    ({"convert": {"formats": ["float32"], "mixed": {"precisions": ["int8", "int8"]}}}, "listed twice"),
])
def test_mixed_recipe_rules(change, message):
    from tflite_edge.errors import UserInputError
    from tflite_edge.recipe.loading import validate_dict

    base = {"name": "m", "data": {"dataset": "shapes"}, "model": {"name": "mobilenet_v2"}}
    with pytest.raises(UserInputError, match=message):
        validate_dict({**base, **change})
