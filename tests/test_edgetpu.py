"""Edge TPU checker, compiler wrapper and Coral target.

The battery builds one tiny tf_keras model per documented Edge TPU rule, converts it in-process
and checks that the checker names the rule and the Keras layer. Compiler logs are golden files
recorded from the real `edgetpu_compiler` (tests/golden/edgetpu_compiler/SOURCES.md).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tflite_edge import edgetpu
from tflite_edge.errors import DeviceUnavailable, UserInputError

GOLDEN = Path(__file__).parent / "golden" / "edgetpu_compiler"


# --------------------------------------------------------------------------------------------
# Building the battery
# --------------------------------------------------------------------------------------------

def _convert(tf, model, mode="int8", io=None):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    shapes = [[1 if d is None else d for d in i.shape] for i in model.inputs]
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(4):
            yield [rng.random(shape, dtype=np.float32) for shape in shapes]

    if mode != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode in ("int8", "16x8"):
        converter.representative_dataset = representative
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = io or tf.uint8
    if mode == "16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return converter.convert()


def _battery(tf, keras):
    """name -> (keras model, conversion mode, expected rule, expected Keras layer)."""
    L = keras.layers

    def seq(*layers, shape=(8, 8, 3), batch=1):
        x = L.Input(shape, batch_size=batch)
        y = x
        for layer in layers:
            y = layer(y)
        return keras.Model(x, y, name="m")

    def tail():  # a trailing layer keeps the rule-breaking op's tensor names out of the outputs
        return L.Conv2D(2, 1, name="tail")

    def runtime_weights():
        a, b = L.Input((4,), batch_size=1), L.Input((4,), batch_size=1)
        w = L.Lambda(lambda t: tf.reshape(t, (4, 1)), name="wgen")(b)
        y = L.Lambda(lambda t: tf.matmul(t[0], t[1]), name="dynmm")([L.Dense(4, name="fc0")(a), w])
        return keras.Model([a, b], L.Dense(2, name="fc1")(y), name="m")

    conv1 = lambda: L.Conv2D(4, 3, name="conv1")  # noqa: E731
    return {
        "float_model": (seq(conv1()), "float", "unsupported_dtype", "conv1"),
        "dynamic_range": (seq(L.Flatten(name="flat"), L.Dense(8, name="fc")), "dynamic",
                          "unsupported_dtype", "fc"),
        "int16x8": (seq(conv1()), "16x8", "unsupported_dtype", "conv1"),
        "dynamic_batch": (seq(conv1(), batch=None), "int8", "dynamic_shape", "conv1"),
        "batch_2": (seq(conv1(), batch=2), "int8", "tensor_rank", "conv1"),
        "rank_5": (seq(conv1(), L.Reshape((2, 3, 6, 4), name="to5d"),
                       L.Lambda(lambda x: x * 2.0, name="scale5d"), L.Reshape((6, 6, 4)), tail()),
                   "int8", "tensor_rank", "to5d"),
        "leaky_relu": (seq(conv1(), L.LeakyReLU(name="leaky"), tail()), "int8", "unsupported_op", "leaky"),
        "exp": (seq(conv1(), L.Lambda(tf.exp, name="expo"), tail()), "int8", "unsupported_op", "expo"),
        "hard_swish": (seq(conv1(), L.Lambda(lambda x: x * tf.nn.relu6(x + 3.0) / 6.0, name="hswish"),
                           tail()), "int8", "unsupported_op", "hswish"),
        "runtime_weights": (runtime_weights(), "int8", "non_constant_param", "dynmm"),
        "uneven_dilation": (seq(L.Conv2D(4, 3, dilation_rate=(1, 2), name="dconv"), tail()), "int8",
                            "op_constraint", "dconv"),
        "softmax_3d": (seq(conv1(), L.Softmax(name="smax"), tail()), "int8", "op_constraint", "smax"),
        "strided_slice": (seq(conv1(), L.Lambda(lambda x: x[:, ::2, ::2, :], name="stride2"), tail()),
                          "int8", "op_constraint", "stride2"),
        "prelu_unshared": (seq(conv1(), L.PReLU(name="prelu"), tail()), "int8", "op_constraint", "prelu"),
        "dense_on_4d": (seq(L.Dense(4, name="dense4d"), tail()), "int8", "op_constraint", "dense4d"),
        "mean_over_batch": (seq(L.Conv2D(4, 1, name="conv1"),
                                L.Lambda(lambda x: tf.reduce_mean(x, axis=[0, 1]), name="batchmean"),
                                L.Dense(2, name="fc")), "int8", "op_constraint", "batchmean"),
        "concat_ones": (seq(conv1(), L.Lambda(lambda x: tf.concat([x, tf.ones((1, 6, 6, 2))], -1),
                                              name="catones"), tail()), "int8", "op_constraint", "catones"),
        "pool_fused_relu": (seq(conv1(), L.MaxPooling2D(name="pool"), L.ReLU(name="relu"), tail()),
                            "int8", "op_constraint", "pool"),
        "pad_batch": (seq(L.Lambda(lambda x: tf.pad(x, [[1, 0], [0, 0]]), name="padbatch"),
                          L.Dense(2, name="fc"), shape=(4,)), "int8", "op_constraint", "padbatch"),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Every battery model plus controls, converted once: name -> (path, rule, layer)."""
    from tflite_edge import compat

    tf, keras = compat.tf(), compat.keras()
    keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("edgetpu_models")
    built = {}
    for name, (model, mode, rule, layer) in _battery(tf, keras).items():
        path = out / f"{name}.tflite"
        path.write_bytes(_convert(tf, model, mode))
        built[name] = (path, rule, layer)
    L = keras.layers
    x = L.Input((8, 8, 3), batch_size=1)
    y = L.Conv2D(4, 3, activation="relu", name="conv1")(x)
    y = L.Dense(3, name="fc")(L.GlobalAveragePooling2D(name="gap")(y))
    good = keras.Model(x, L.Softmax(name="probs")(y), name="m")
    (out / "good.tflite").write_bytes(_convert(tf, good))
    good.save(out / "good.keras")
    (out / "float_io.tflite").write_bytes(_convert(tf, good, io=tf.float32))
    built["good"] = (out / "good.tflite", None, None)
    built["good_keras"] = (out / "good.keras", None, None)
    built["float_io"] = (out / "float_io.tflite", None, None)
    return built


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------

BATTERY = ["float_model", "dynamic_range", "int16x8", "dynamic_batch", "batch_2", "rank_5",
           "leaky_relu", "exp", "hard_swish", "runtime_weights", "uneven_dilation", "softmax_3d",
           "strided_slice", "prelu_unshared", "dense_on_4d", "mean_over_batch", "concat_ones",
           "pool_fused_relu", "pad_batch"]


@pytest.mark.parametrize("name", BATTERY)
def test_battery_flags_rule_and_layer(models, name):
    path, rule, layer = models[name]
    report = edgetpu.check_model(path)
    assert report["verdict"] != "all_on_tpu"
    flagged = [(f["rule"], f["layer"]) for f in report["findings"]]
    assert (rule, layer) in flagged, flagged
    finding = next(f for f in report["findings"] if (f["rule"], f["layer"]) == (rule, layer))
    assert finding["fix"] and finding["reason"]
    assert finding["status"] in {edgetpu.BAD_DTYPE, edgetpu.DYNAMIC, edgetpu.BAD_RANK,
                                 edgetpu.NOT_SUPPORTED, edgetpu.NOT_CONSTANT, edgetpu.UNSPECIFIED}


def test_battery_is_large_enough():
    assert len(BATTERY) >= 15


def test_good_model_maps_everything(models):
    report = edgetpu.check_model(models["good"][0])
    assert report["verdict"] == "all_on_tpu"
    assert report["on_cpu"] == 0 and report["on_tpu"] == len(report["ops"]) > 0
    assert report["fully_quantized"] and report["findings"] == []
    assert {o["status"] for o in report["ops"]} == {edgetpu.MAPPED}


def test_keras_model_names_output_layers(models):
    report = edgetpu.check_model(models["good"][0], models["good_keras"][0])
    layers = {o["op"]: o["layer"] for o in report["ops"]}
    assert layers["CONV_2D"] == "conv1" and layers["SOFTMAX"] == "probs"


def test_unsupported_op_pushes_later_ops_to_cpu(models):
    report = edgetpu.check_model(models["leaky_relu"][0])
    statuses = [(o["op"], o["status"]) for o in report["ops"]]
    leaky = next(i for i, (op, _) in enumerate(statuses) if op == "LEAKY_RELU")
    assert statuses[leaky][1] == edgetpu.NOT_SUPPORTED
    assert all(s == edgetpu.MAPPED for _, s in statuses[:leaky])
    assert all(s == edgetpu.PARTITIONED for _, s in statuses[leaky + 1:])
    partition = next(f for f in report["findings"] if f["rule"] == "partition")
    assert partition["layer"] == "leaky" and report["on_cpu"] == len(statuses) - leaky


def test_float_model_is_not_compilable(models):
    report = edgetpu.check_model(models["float_model"][0])
    assert report["verdict"] == "not_compilable" and not report["fully_quantized"]
    assert "Model not quantized" in report["summary"]


def test_dynamic_batch_is_not_compilable(models):
    report = edgetpu.check_model(models["dynamic_batch"][0])
    assert report["verdict"] == "not_compilable" and "dynamic" in report["summary"]


def test_float_io_runs_boundary_ops_on_cpu_without_cutting(models):
    report = edgetpu.check_model(models["float_io"][0])
    assert {f["rule"] for f in report["findings"]} == {"float_io"}
    inner = [o for o in report["ops"] if o["op"] not in ("QUANTIZE", "DEQUANTIZE")]
    assert all(o["status"] == edgetpu.MAPPED for o in inner)


def test_report_is_json_serialisable(models):
    json.dumps(edgetpu.check_model(models["rank_5"][0]))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        edgetpu.check_model(tmp_path / "nope.tflite")


@pytest.mark.parametrize("content", [b"", b"abc", b"hello, this is not a model at all" * 10,
                                     b"PK\x03\x04" + b"\0" * 100])
def test_not_tflite(tmp_path, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match="not a TFLite model"):
        edgetpu.check_model(path)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.8, 0.97])
def test_truncated_tflite(models, tmp_path, fraction):
    data = models["good"][0].read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: max(8, int(len(data) * fraction))])
    with pytest.raises(UserInputError, match="truncated or corrupt"):
        edgetpu.check_model(path)


def test_bad_keras_path(models, tmp_path):
    with pytest.raises(UserInputError, match="Keras model not found"):
        edgetpu.check_model(models["good"][0], tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(UserInputError, match="cannot load the Keras model"):
        edgetpu.check_model(models["good"][0], junk)


# --------------------------------------------------------------------------------------------
# The compiler: command line and golden logs
# --------------------------------------------------------------------------------------------

def test_compiler_command_options():
    cmd = edgetpu.compiler_command(Path("m.tflite"), Path("out"), num_segments=2,
                                   intermediate_tensors=["a/b", "c"], search_delegate=True,
                                   delegate_search_step=10)
    assert cmd == ["edgetpu_compiler", "-s", "-o", "out", "-n", "2", "-i", "a/b,c", "-d", "-k", "10",
                   "m.tflite"]


def test_compiler_command_refuses_step_without_search():
    with pytest.raises(UserInputError, match="-k only works with -d"):
        edgetpu.compiler_command(Path("m.tflite"), Path("o"), delegate_search_step=5)
    with pytest.raises(UserInputError):
        edgetpu.compiler_command(Path("m.tflite"), Path("o"), num_segments=0)


def _golden(name: str) -> dict:
    return edgetpu.parse_compiler_log((GOLDEN / name).read_text())


def test_golden_partial_v2():
    r = _golden("v2_partial_subgraph.txt")
    assert r["compiled"] is True and r["compiler_version"] == "2.1.302470888"
    assert r["compile_time_ms"] == 12264
    assert (r["input_model"], r["output_model"]) == ("model2.tflite", "model2_edgetpu.tflite")
    assert r["input_size_bytes"] == round(8.11 * 1024 ** 2)
    assert r["on_chip_memory_used_bytes"] == round(6.86 * 1024 ** 2)
    assert r["on_chip_memory_remaining_bytes"] == round(7.75 * 1024)
    assert r["off_chip_memory_used_bytes"] == round(1.22 * 1024 ** 2)
    assert (r["edgetpu_subgraphs"], r["total_operations"]) == (1, 93)
    assert (r["ops_on_tpu"], r["ops_on_cpu"]) == (83, 10)
    assert r["ops"] == [
        {"op": "LOGISTIC", "count": 1, "status": edgetpu.PARTITIONED, "on_tpu": False},
        {"op": "ADD", "count": 10, "status": edgetpu.MAPPED, "on_tpu": True},
        {"op": "CONCATENATION", "count": 1, "status": edgetpu.PARTITIONED, "on_tpu": False},
        {"op": "CONCATENATION", "count": 3, "status": edgetpu.MAPPED, "on_tpu": True},
    ]


def test_golden_all_mapped_with_delegate_search():
    r = _golden("v16_delegate_search_all_mapped.txt")
    assert r["compiled"] and r["compiler_version"] == "16.0.384591198"
    assert r["delegate_search_step"] == 10 and r["segments_tried"] == [246]
    assert r["off_chip_memory_used_bytes"] == round(41.75 * 1024)
    assert r["output_model"] == "runs/train/exp8/weights/best-int8_edgetpu.tflite"
    assert len(r["ops"]) == 9 and all(row["on_tpu"] for row in r["ops"])
    # No count lines when everything maps: the table gives them.
    assert (r["ops_on_tpu"], r["ops_on_cpu"]) == (179, 0)


def test_golden_table_with_unsupported_ops():
    r = _golden("transpose_not_supported.txt")
    assert (r["ops_on_tpu"], r["ops_on_cpu"]) == (2, 153)
    assert len(r["ops"]) == 10 and sum(row["count"] for row in r["ops"]) == 155
    assert r["ops"][0] == {"op": "TRANSPOSE", "count": 70, "status": edgetpu.NOT_SUPPORTED, "on_tpu": False}
    assert r["ops"][8]["status"] == edgetpu.UNSPECIFIED


def test_golden_operation_log_file():
    r = _golden("operation_log_file.log")
    assert (r["input_model"], r["output_model"]) == ("tiny_yolo.tflite", "tiny_yolo_edgetpu.tflite")
    assert r["compiled"] is None  # the .log file has no outcome line
    assert "Operation version not supported" in {row["status"] for row in r["ops"]}
    assert (r["ops_on_tpu"], r["ops_on_cpu"]) == (19, 6)


@pytest.mark.parametrize("name, needle", [
    ("model_not_quantized.txt", "Model not quantized"),
    ("dynamic_tensors_failed.txt", "dynamic-sized tensors"),
    ("large_activations_failed.txt", "large activation tensors"),
])
def test_golden_failures(name, needle):
    r = _golden(name)
    assert r["compiled"] is False and r["ops"] == []
    assert any(needle in e for e in r["errors"])


def test_golden_odd_status_kept_verbatim():
    r = _golden("fc_2d_output.txt")
    assert r["ops"][0]["status"] == "For example, a fully-connected or softmax layer with 2D output"
    assert (r["ops_on_tpu"], r["ops_on_cpu"]) == (0, 1)


def test_compile_without_compiler(models, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert edgetpu.find_compiler() is None
    with pytest.raises(DeviceUnavailable, match="edgetpu_compiler not found"):
        edgetpu.compile_model(models["good"][0], tmp_path / "out")


def test_compile_runs_compiler_and_parses_log(models, tmp_path, monkeypatch):
    # A stand-in that replays a recorded log tests the plumbing where the binary cannot run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "edgetpu_compiler"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'argv.txt'}\n"
                    f"cat {GOLDEN / 'v2_partial_subgraph.txt'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    result = edgetpu.compile_model(models["good"][0], tmp_path / "out", num_segments=2)
    assert result["compiled"] and result["returncode"] == 0
    assert (result["ops_on_tpu"], result["ops_on_cpu"]) == (83, 10)
    argv = (tmp_path / "argv.txt").read_text().split()
    assert argv[:5] == ["-s", "-o", str(tmp_path / "out"), "-n", "2"]


@pytest.mark.skipif(edgetpu.find_compiler() is None,
                    reason="edgetpu_compiler is not installed (x86-64 Linux only; "
                           "converters/install_edgetpu_compiler.sh)")
def test_real_compiler_agrees_with_checker(models, tmp_path):
    result = edgetpu.compile_model(models["good"][0], tmp_path)
    assert result["compiled"] and result["ops_on_cpu"] == 0
    assert Path(result["output_model"]).name == "good_edgetpu.tflite"
    predicted = edgetpu.check_model(models["leaky_relu"][0])
    real = edgetpu.compile_model(models["leaky_relu"][0], tmp_path)
    assert (real["ops_on_tpu"], real["ops_on_cpu"]) == (predicted["on_tpu"], predicted["on_cpu"])


# --------------------------------------------------------------------------------------------
# CLI and Coral target
# --------------------------------------------------------------------------------------------

def _cli(argv):
    from tflite_edge.commands import edgetpu as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_check_json(models, capsys):
    assert _cli(["edgetpu", "check", str(models["good"][0]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "all_on_tpu"


def test_cli_check_table(models, capsys):
    assert _cli(["edgetpu", "check", str(models["leaky_relu"][0])]) == 1
    out = capsys.readouterr().out
    assert "LEAKY_RELU" in out and "leaky" in out and "fix:" in out


def test_cli_compile_gate_refuses_float(models, tmp_path):
    with pytest.raises(UserInputError, match="Model not quantized"):
        _cli(["edgetpu", "compile", str(models["float_model"][0]), "-o", str(tmp_path)])


def test_modules_import_without_tensorflow():
    code = ("import sys, tflite_edge.commands.edgetpu, tflite_edge.edgetpu, tflite_edge.bench.coral; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_coral_without_runtime(models, monkeypatch):
    from tflite_edge.bench import coral

    monkeypatch.setattr(coral, "EDGETPU_LIBRARY", "libedgetpu-absent-for-test.so.1")
    with pytest.raises(DeviceUnavailable, match="Edge TPU runtime"):
        coral.benchmark_coral(models["good"][0], device="usb")


def test_coral_rejects_bad_device(models):
    from tflite_edge.bench import coral

    with pytest.raises(UserInputError, match="expected usb"):
        coral.benchmark_coral(models["good"][0], device="bluetooth")
