"""Parsers on recorded real output (tests/golden/README.md says where each file comes from)."""

from pathlib import Path

import pytest

from tflite_edge.bench import parse

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


# ------------------------------------------------------------------ line-level formats
@pytest.mark.parametrize(
    "line, expected",
    [
        ("INFO: STARTING!", "STARTING!"),
        ("VERBOSE: Replacing 1 node(s) with delegate (X) node, yielding 1 partitions.",
         "Replacing 1 node(s) with delegate (X) node, yielding 1 partitions."),
        ("05-31 10:38:42.583 22206 22206 I tflite  : Use gpu: [1]", "Use gpu: [1]"),
        ("Loaded model m.tflite", "Loaded model m.tflite"),
    ],
)
def test_log_prefixes_are_stripped(line, expected):
    assert parse.strip_log_prefix(line) == expected


def test_stat_line_full_form_with_percentiles():
    stat = parse.parse_stat_line(
        "INFO: count=50 first=591245 curr=917186 min=502355 max=2270688 avg=699438 std=325425 "
        "p5=502674 median=576856 p95=1373207"
    )
    assert stat["count"] == 50 and stat["median"] == 576856 and stat["std"] == 325425


def test_stat_line_scientific_notation_and_all_same_form():
    assert parse.parse_stat_line("count=50 first=1 curr=2 min=1 max=3 avg=2.95034e+06 std=9")["avg"] == 2950340.0
    same = parse.parse_stat_line("count=1 curr=633430")
    assert same["avg"] == same["min"] == 633430 and same["std"] == 0.0
    assert parse.parse_stat_line("count=5 curr=7(all same)")["avg"] == 7
    assert parse.parse_stat_line("Running benchmark for at least 1 iterations") is None


@pytest.mark.parametrize(
    "line, expected",
    [
        # Android, 2022+ runtime: "out of M" and a subgraph index.
        ("VERBOSE: Replacing 49 out of 49 node(s) with delegate (TfLiteXNNPackDelegate) node, "
         "yielding 1 partitions for subgraph 0.",
         {"kernel": "TfLiteXNNPackDelegate", "nodes_delegated": 49, "nodes_total": 49, "partitions": 1, "subgraph": 0}),
        # 2021 wording, pasted from a benchmark APK logcat.
        ("01-21 18:06:33.948 16604 16604 I tflite  : Replacing 2975 node(s) with delegate "
         "(TfLiteXNNPackDelegate) node, yielding 98 partitions for the whole graph.",
         {"kernel": "TfLiteXNNPackDelegate", "nodes_delegated": 2975, "nodes_total": None, "partitions": 98, "subgraph": None}),
        # Oldest wording (2020-2021), pasted from app logcat.
        ("Replacing 269 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 13 partitions.",
         {"kernel": "TfLiteXNNPackDelegate", "nodes_delegated": 269, "nodes_total": None, "partitions": 13, "subgraph": None}),
        # Partial coverage (Qualcomm QNN delegate on a board).
        ("VERBOSE: Replacing 10 out of 13 node(s) with delegate (TfLiteQnnDelegate) node, "
         "yielding 3 partitions for the whole graph.",
         {"kernel": "TfLiteQnnDelegate", "nodes_delegated": 10, "nodes_total": 13, "partitions": 3, "subgraph": None}),
    ],
)
def test_replacing_line_all_generations(line, expected):
    assert parse.parse_delegate_events(line)["replacements"] == [expected]


# ------------------------------------------------------------------ whole outputs
def test_android_xnnpack_full_coverage_and_p50():
    text = golden("benchmark_model/android_xnnpack_full_subgraph.txt")
    s = parse.summarize_benchmark(text, "xnnpack")
    assert s["error"] is None and s["fallback_warning"] is None
    assert s["delegate_coverage"] == {"nodes_delegated": 49, "nodes_total": 49, "partitions": 1}
    assert s["latency_ms_p50"] == pytest.approx(576.856)
    assert s["latency_ms_mean"] == pytest.approx(699.438)
    assert s["latency_ms_std"] == pytest.approx(325.425)
    assert s["init_ms"] == pytest.approx(102.32) and s["first_inference_ms"] == pytest.approx(670.083)
    assert s["peak_memory_mb"] == pytest.approx(99.2031) and s["memory_kind"] == "delta_from_start"
    assert s["runs_measured"] == 50


def test_gpu_took_whole_graph_but_nnapi_fell_back():
    text = golden("benchmark_model/android_gpu_full_nnapi_none.txt")
    gpu = parse.summarize_benchmark(text, "gpu")
    assert gpu["delegate_coverage"] == {"nodes_delegated": 49, "nodes_total": 49, "partitions": 1}
    assert gpu["fallback_warning"] is None
    nnapi = parse.summarize_benchmark(text, "nnapi")
    assert "nnapi-reference" in nnapi["fallback_warning"]
    events = parse.parse_delegate_events(text)
    assert {"delegate": "NNAPI", "execution": "none", "kernels": 0} in events["applied"]
    assert parse.delegate_coverage(events, "nnapi") == {"nodes_delegated": 0, "nodes_total": None, "partitions": 0}


def test_partial_xnnpack_without_replacing_line_warns_and_has_no_p50():
    s = parse.summarize_benchmark(golden("benchmark_model/linux_arm_xnnpack_partial.txt"), "xnnpack")
    assert "partially" in s["fallback_warning"]
    # No median= in this build: p50 is unknown and said so by leaving it None next to the mean.
    assert s["latency_ms_p50"] is None and s["latency_ms_mean"] == pytest.approx(602.943)
    assert parse.parse_run_stats(golden("benchmark_model/linux_arm_xnnpack_partial.txt"))["warmup"]["count"] == 1


def test_old_format_without_prefix_scientific_notation_and_op_profile():
    text = golden("benchmark_model/riscv_cpu_op_profiling_old_format.txt")
    s = parse.summarize_benchmark(text, "cpu")
    assert s["latency_ms_mean"] == pytest.approx(2950.34)
    # The profiler's own "Timings (microseconds): count=..." lines must not replace the run stats.
    assert s["latency_ms_std"] == pytest.approx(109.798) and s["runs_measured"] == 50
    profile = s["op_profile"]
    assert len(profile["run_order"]) == 31
    assert profile["run_order"][0] == {
        "node_type": "CONV_2D", "avg_ms": 60.957, "pct": 2.066, "times_called": 1,
        "name": "[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0", "where": "cpu",
    }
    conv = next(r for r in profile["by_node_type"] if r["node_type"] == "CONV_2D")
    assert conv["count"] == 15 and conv["pct"] == pytest.approx(89.897)


def test_old_gpu_format_peak_memory_and_delegate_in_profile():
    text = golden("benchmark_model/android_gpu_old_format_op_profiling.txt")
    s = parse.summarize_benchmark(text, "gpu")
    assert s["fallback_warning"] is None and s["error"] is None
    assert s["peak_memory_mb"] == pytest.approx(63.4883) and s["memory_kind"] == "max_rss"
    assert s["op_profile"]["by_node_type"] == [
        {"node_type": "TfLiteGpuDelegateV2", "count": 1, "avg_ms": 8.671, "pct": 100.0, "times_called": 1,
         "where": "delegate"}
    ]


def test_delegate_that_fails_to_prepare_is_an_error_not_a_timing():
    s = parse.summarize_benchmark(golden("benchmark_model/android_nnapi_failed_to_apply.txt"), "nnapi")
    assert s["latency_ms_mean"] is None
    assert "ANEURALNETWORKS_BAD_DATA" in s["error"] and "Failed to apply NNAPI delegate." in s["error"]
    assert s["fallback_warning"].startswith("NNAPI delegate failed to apply")


def test_partial_gpu_coverage_warns_with_node_counts():
    text = (
        "INFO: Created TensorFlow Lite delegate for GPU.\n"
        "VERBOSE: Replacing 54 out of 559 node(s) with delegate (TfLiteGpuDelegateV2) node, "
        "yielding 3 partitions for subgraph 0.\n"
        "INFO: Explicitly applied GPU delegate, and the model graph will be partially executed by the "
        "delegate w/ 3 delegate kernels.\n"
    )
    warning = parse.fallback_warning(parse.parse_delegate_events(text), "gpu", failed=False)
    assert warning == "GPU delegate took 54 of 559 nodes in 3 partitions; 505 nodes fall back to the CPU"


# ------------------------------------------------------------------ benchmark_litert_model (host)
def litert(name: str) -> str:
    """Both streams of one recorded run, as the host engine reads them (stdout, then stderr)."""
    return golden(f"benchmark_litert_model/{name}.stdout.txt") + "\n" + golden(f"benchmark_litert_model/{name}.stderr.txt")


def test_litert_tool_results_block():
    s = parse.summarize_benchmark(litert("quickstart_int8_1thread"), "xnnpack")
    assert s["error"] is None and s["runs_measured"] == 50 and s["warmup_invocations"] == 5
    assert (s["latency_ms_p50"], s["latency_ms_mean"], s["latency_ms_min"], s["latency_ms_max"]) == (0.17, 0.17, 0.16, 0.22)
    assert (s["latency_ms_p5"], s["latency_ms_p95"], s["latency_ms_std"]) == (0.16, 0.20, 0.01)
    assert s["latency_ms_p90"] is None and s["latency_ms_p99"] is None  # the tool prints neither
    assert s["init_ms"] == 2.53 and s["first_inference_ms"] == 0.39 and s["latency_resolution_ms"] == 0.01
    assert s["fully_accelerated"] is False and s["fallback_warning"] is None and s["peak_memory_mb"] is None
    block = parse.parse_litert_tool(golden("benchmark_litert_model/quickstart_int8_1thread.stdout.txt"))
    assert block["throughput_mb_s"] == 68.23 and block["warmup_avg_ms"] == 0.25


def test_litert_tool_without_warm_up_has_no_first_inference():
    s = parse.summarize_benchmark(litert("mobilenet_v2_1.0_224_float32_2threads"), "xnnpack")
    assert s["runs_measured"] == 20 and s["warmup_invocations"] == 0 and s["first_inference_ms"] is None
    assert s["latency_ms_p50"] == 5.96 and s["fully_accelerated"] is True


@pytest.mark.parametrize("name, says", [
    ("sparse_int8_xnnpack_cannot_prepare", ["failed to delegate FULLY_CONNECTED node #5",
                                            "RuntimeError: CompiledModel error", "Failed to allocate tensors"]),
    ("truncated_model", ["no BENCHMARK RESULTS block"]),  # killed by SIGSEGV mid-load: no error line at all
    ("file_not_found", ["Model file not found: /tmp/i16/missing.tflite"]),
])
def test_litert_tool_failures_say_why(name, says):
    s = parse.summarize_benchmark(litert(name), "xnnpack")
    assert s["latency_ms_p50"] is None and s["error"].startswith("benchmark_litert_model failed: ")
    assert all(text in s["error"] for text in says), s["error"]
    assert "INFO" not in s["error"] and "WARNING" not in s["error"]  # log chatter is not a reason


def test_the_two_tools_outputs_are_told_apart():
    for f in sorted((GOLDEN / "benchmark_model").glob("*.txt")):
        assert not parse.is_litert_tool_output(f.read_text()), f.name
    for f in sorted((GOLDEN / "benchmark_litert_model").glob("*.stderr.txt")):
        assert parse.is_litert_tool_output(f.read_text()), f.name


# ------------------------------------------------------------------ adb and getprop
def test_adb_devices_mixed_states():
    devices = parse.parse_adb_devices(golden("adb/devices_l_mixed.txt"))
    assert [(d["serial"], d["state"]) for d in devices] == [
        ("emulator-5554", "device"),
        ("R58M12ABCDE", "unauthorized"),
        ("192.168.1.20:5555", "offline"),
        ("49281FDAQ0011J", "device"),
        ("R58M123", "no permissions (missing udev rules? user is in the plugdev group); "
                    "see [http://developer.android.com/tools/device.html]"),
    ]
    assert devices[3]["model"] == "Pixel_9" and devices[3]["usb"] == "usb:1-1" and devices[3]["transport_id"] == 5


def test_adb_devices_none_recorded_here_and_short_form():
    assert parse.parse_adb_devices(golden("adb/devices_l_none.txt")) == []
    assert parse.parse_adb_devices(golden("adb/devices_l_none.stderr.txt")) == []
    assert parse.parse_adb_devices("List of devices attached\n62dadc91\tunauthorized\n\n")[0]["state"] == "unauthorized"


def test_getprop_and_cpu_count():
    props = parse.parse_getprop(golden("adb/getprop_pixel.txt"))
    assert props["ro.product.model"] == "Pixel 8" and props["ro.soc.model"] == "Tensor G3"
    assert parse.parse_getprop("[a.b]: [line one\nline two]\n[c]: []\n") == {"a.b": "line one\nline two", "c": ""}
    assert parse.count_cpus("0-7\n") == 8 and parse.count_cpus("0-3,6") == 5 and parse.count_cpus("") is None
