"""Android harness: run_matrix.sh for real through LocalShellTransport, the adb layer on recorded output."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tflite_edge.bench import android
from tflite_edge.errors import DeviceUnavailable, UserInputError

GOLDEN = Path(__file__).parent / "golden"
BM = GOLDEN / "benchmark_model"

# A stand-in for benchmark_model: logs its argv, then replays a recorded output per delegate
# flag, on stderr like the real tool, with the real tool's exit status on failure.
FAKE_BINARY = f"""#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
case "$*" in
  *--use_nnapi=true*) cat "{BM / 'android_nnapi_failed_to_apply.txt'}" >&2; exit 1 ;;
  *--use_gpu=true*) cat "{BM / 'android_gpu_full_nnapi_none.txt'}" >&2 ;;
  *--enable_op_profiling=true*) cat "{BM / 'riscv_cpu_op_profiling_old_format.txt'}" >&2 ;;
  *) cat "{BM / 'android_xnnpack_full_subgraph.txt'}" >&2 ;;
esac
"""


@pytest.fixture
def fake_binary(tmp_path):
    path = tmp_path / "host" / "benchmark_model"
    path.parent.mkdir()
    path.write_text(FAKE_BINARY)
    model = tmp_path / "host" / "mobilenet.tflite"
    model.write_bytes(b"TFL3 not a real model")
    return path, model


def run_local(tmp_path, fake_binary, **options):
    binary, model = fake_binary
    transport = android.LocalShellTransport(tmp_path / "device")
    results = android.benchmark_android(model, binary=binary, transport=transport, **options)
    return results, (tmp_path / "device" / "calls.log").read_text().splitlines()


# ------------------------------------------------------------------ device-side script, for real
def test_matrix_runs_every_configuration_and_keeps_going_after_a_failure(tmp_path, fake_binary):
    results, calls = run_local(tmp_path, fake_binary, threads=[1, 4], delegates=["xnnpack", "nnapi", "gpu"], runs=50, warmup=5)
    assert [(r["threads"], r["delegate"]) for r in results] == [
        (1, "xnnpack"), (1, "nnapi"), (1, "gpu"), (4, "xnnpack"), (4, "nnapi"), (4, "gpu"),
    ]
    xnn, nnapi, gpu = results[:3]
    assert xnn["latency_ms_p50"] == pytest.approx(576.856) and xnn["error"] is None
    assert xnn["delegate_coverage"] == {"nodes_delegated": 49, "nodes_total": 49, "partitions": 1}
    assert nnapi["latency_ms_mean"] is None and "Failed to apply NNAPI delegate" in nnapi["error"]
    assert gpu["fallback_warning"] is None and gpu["latency_ms_mean"] == pytest.approx(309.35)
    assert {r["target"] for r in results} == {"local"} and xnn["runs"] == 50 and xnn["warmup"] == 5
    assert len(calls) == 6
    first = calls[0].split()
    assert "--num_threads=1" in first and "--num_runs=50" in first and "--warmup_runs=5" in first
    assert "--warmup_min_secs=0.5" in first and "--min_secs=0" in first  # warm-up: 5 runs and 0.5 s
    assert "--report_peak_memory_footprint=true" in first and "--use_xnnpack=true" in first
    assert any(a.startswith("--graph=") and a.endswith("/model.tflite") for a in first)
    assert "--use_nnapi=true" in calls[1] and "--use_gpu=true" in calls[2] and "--num_threads=4" in calls[3]


def test_warm_up_by_count_alone_reaches_the_binary(tmp_path, fake_binary):
    _, calls = run_local(tmp_path, fake_binary, warmup_min_s=0)
    assert "--warmup_min_secs=0" in calls[0].split()


def test_op_profiling_flag_reaches_the_binary_and_the_profile_is_parsed(tmp_path, fake_binary):
    results, calls = run_local(tmp_path, fake_binary, delegates=["cpu"], profile_ops=True)
    assert "--enable_op_profiling=true" in calls[0] and "--use_xnnpack=false" in calls[0]
    assert len(results[0]["op_profile"]["run_order"]) == 31


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset not installed on this machine")
def test_cpu_mask_uses_taskset_when_present(tmp_path, fake_binary):
    results, _ = run_local(tmp_path, fake_binary, cpu_mask="1")
    assert results[0]["cpu_mask"] == "1" and results[0]["error"] is None


def test_cpu_mask_without_taskset_is_reported_not_silently_dropped(tmp_path, fake_binary):
    device = tmp_path / "device"
    device.mkdir()
    for name, src in (("benchmark_model", fake_binary[0]), ("model.tflite", fake_binary[1]), ("run_matrix.sh", android.SCRIPT)):
        shutil.copyfile(src, device / name)
    cmd = android.matrix_command(str(device), threads=[1], delegates=["xnnpack"], runs=3, warmup=1, cpu_mask="f0", profile_ops=False)
    # A PATH holding only sh, cat and dirname: no taskset, as on some boards.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "dirname", "chmod"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env={"PATH": str(bin_dir)}, timeout=20).stdout
    chunks, notes = android.split_matrix_output(out)
    assert notes == ["note taskset=unavailable"] and chunks[0]["rc"] == 0


def test_missing_binary_on_device_is_reported_by_the_script(tmp_path):
    device = tmp_path / "device"
    device.mkdir()
    shutil.copyfile(android.SCRIPT, device / "run_matrix.sh")
    cmd = android.matrix_command(str(device), threads=[1], delegates=["xnnpack"], runs=1, warmup=1, cpu_mask=None, profile_ops=False)
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 3
    _, notes = android.split_matrix_output(proc.stdout)
    assert "binary unusable" in android._script_error(notes)


def test_script_is_posix_sh(tmp_path):
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash not installed: cannot check the script under a strict POSIX shell")
    assert subprocess.run([dash, "-n", str(android.SCRIPT)], capture_output=True).returncode == 0


def test_unfinished_configuration_is_an_error_row():
    out = "@@TFLITE_EDGE begin threads=1 delegate=gpu\nINFO: STARTING!\n"
    chunks, _ = android.split_matrix_output(out)
    row = android.result_from_chunk(chunks[0], target="android:X", model="m", runs=5, warmup=1, device=None, pinned=None)
    assert row["error"] and row["latency_ms_mean"] is None


# ------------------------------------------------------------------ bad input on the host side
def test_missing_benchmark_binary_is_user_input_error(tmp_path, fake_binary):
    with pytest.raises(UserInputError, match="benchmark binary not found"):
        android.benchmark_android(fake_binary[1], binary=tmp_path / "nope", transport=android.LocalShellTransport(tmp_path / "d"))


def test_unknown_delegate_is_user_input_error(tmp_path, fake_binary):
    with pytest.raises(UserInputError, match="unknown delegate"):
        android.benchmark_android(fake_binary[1], binary=fake_binary[0], delegates=["tpu"],
                                  transport=android.LocalShellTransport(tmp_path / "d"))


# ------------------------------------------------------------------ adb layer on recorded output
class RecordedAdb:
    """Answers adb argv with recorded outputs; records the calls."""

    def __init__(self, devices="devices_l_one.txt", shell_stderr=None, missing=False):
        self.calls = []
        self.devices = (GOLDEN / "adb" / devices).read_text()
        self.shell_stderr = (GOLDEN / "adb" / shell_stderr).read_text() if shell_stderr else None
        self.missing = missing

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        if self.missing:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        if argv[1:] == ["devices", "-l"]:
            return subprocess.CompletedProcess(argv, 0, self.devices, "")
        if self.shell_stderr is not None:
            return subprocess.CompletedProcess(argv, 1, "", self.shell_stderr)
        command = argv[-1]
        if command == "getprop":
            return subprocess.CompletedProcess(argv, 0, (GOLDEN / "adb" / "getprop_pixel.txt").read_text(), "")
        if command.startswith("cat /sys/devices/system/cpu/possible"):
            return subprocess.CompletedProcess(argv, 0, "0-8\n", "")
        if "run_matrix.sh" in command:
            out = (
                "@@TFLITE_EDGE begin threads=1 delegate=xnnpack\n"
                + (BM / "android_xnnpack_full_subgraph.txt").read_text()
                + "@@TFLITE_EDGE end threads=1 delegate=xnnpack rc=0\n"
            )
            return subprocess.CompletedProcess(argv, 0, out, "")
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_adb_benchmark_pushes_files_and_records_device_facts(fake_binary):
    adb = RecordedAdb()
    results = android.benchmark_android(fake_binary[1], binary=fake_binary[0], runner=adb)
    assert results[0]["target"] == "android:a0737173"
    assert results[0]["device"] == {
        "model": "Pixel 8", "manufacturer": "Google", "android_version": "14", "sdk": "34",
        "abi": "arm64-v8a", "soc": "Tensor G3", "soc_manufacturer": "Google", "cores": 9, "serial": "a0737173",
    }
    pushes = [c for c in adb.calls if "push" in c]
    assert [Path(c[-1]).name for c in pushes] == ["benchmark_model", "model.tflite", "run_matrix.sh"]
    assert all(c[:3] == ["adb", "-s", "a0737173"] for c in adb.calls[1:])


def test_no_device_attached(fake_binary):
    with pytest.raises(DeviceUnavailable, match="no Android device attached"):
        android.benchmark_android(fake_binary[1], binary=fake_binary[0], runner=RecordedAdb("devices_l_none.txt"))


def test_unauthorized_device_names_the_fix():
    with pytest.raises(DeviceUnavailable, match="accept the RSA prompt on the phone"):
        android.device_facts(runner=RecordedAdb("devices_l_unauthorized.txt"))
    with pytest.raises(DeviceUnavailable, match="accept the RSA prompt"):
        android.AdbTransport("X", runner=RecordedAdb(shell_stderr="shell_unauthorized.stderr.txt")).shell("getprop")


def test_recorded_adb_errors_map_to_clear_messages():
    with pytest.raises(DeviceUnavailable, match="no Android device attached"):
        android.AdbTransport("X", runner=RecordedAdb(shell_stderr="shell_no_device.stderr.txt")).shell("true")
    with pytest.raises(DeviceUnavailable, match="device ABC123 is not attached"):
        android.AdbTransport("ABC123", runner=RecordedAdb(shell_stderr="shell_serial_not_found.stderr.txt")).shell("true")


def test_adb_missing_says_how_to_install():
    with pytest.raises(DeviceUnavailable, match="apt-get install adb"):
        android.list_devices(runner=RecordedAdb(missing=True))


def test_device_choice_by_state():
    devices = android.parse.parse_adb_devices((GOLDEN / "adb" / "devices_l_mixed.txt").read_text())
    with pytest.raises(UserInputError, match="several Android devices"):
        android.resolve_serial(None, devices)
    assert android.resolve_serial("49281FDAQ0011J", devices) == "49281FDAQ0011J"
    with pytest.raises(DeviceUnavailable, match="offline"):
        android.resolve_serial("192.168.1.20:5555", devices)
    with pytest.raises(DeviceUnavailable, match="no permissions"):
        android.resolve_serial("R58M123", devices)
    with pytest.raises(DeviceUnavailable, match="not attached"):
        android.resolve_serial("ZZZ", devices)


def test_matrix_over_targets_records_failures_and_continues(fake_binary):
    jobs = {
        "android:none": lambda: android.benchmark_android(fake_binary[1], binary=fake_binary[0], runner=RecordedAdb("devices_l_none.txt")),
        "android:a0737173": lambda: android.benchmark_android(fake_binary[1], binary=fake_binary[0], runner=RecordedAdb()),
        "android:nobin": lambda: android.benchmark_android(fake_binary[1], binary=Path("/nonexistent/benchmark_model"), runner=RecordedAdb()),
    }
    rows = android.run_targets(jobs)
    assert rows[0] == {"target": "android:none", "error": rows[0]["error"]} and "no Android device" in rows[0]["error"]
    assert rows[1]["target"] == "android:a0737173" and rows[1]["latency_ms_mean"] == pytest.approx(699.438)
    assert rows[2]["target"] == "android:nobin" and "benchmark binary not found" in rows[2]["error"]


def test_parse_target():
    assert android.parse_target("host") == ("host", None)
    assert android.parse_target("android") == ("android", None)
    assert android.parse_target("android:R58M") == ("android", "R58M")
    assert android.parse_target("ssh:pi@raspberrypi.local") == ("ssh", "pi@raspberrypi.local")
    with pytest.raises(UserInputError, match="unknown target"):
        android.parse_target("ios")


# ------------------------------------------------------------------ a real phone, when one is attached
def _attached_serials():
    if shutil.which("adb") is None:
        return []
    try:
        return [d["serial"] for d in android.list_devices() if d["state"] == "device"]
    except Exception:  # noqa: BLE001 - any adb trouble simply means "no device for this test"
        return []


@pytest.mark.skipif(not _attached_serials(), reason="no Android device in `adb devices -l` (none attached here)")
def test_real_device_facts():
    facts = android.device_facts(_attached_serials()[0])
    assert facts["model"] and facts["cores"]


def test_latency_plot_skips_error_rows(tmp_path):
    from tflite_edge.plots import plot_latency

    rows = [
        {"model": "fp32.tflite", "target": "host", "delegate": "xnnpack", "threads": 1, "latency_ms_p50": 4.8},
        {"model": "fp32.tflite", "target": "android:X", "delegate": "gpu", "threads": 1, "latency_ms_mean": 2.0},
        {"target": "android:Y", "error": "no Android device attached"},
    ]
    png = plot_latency(rows, tmp_path / "lat.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_several_devices_in_parallel(fake_binary):
    rows = android.benchmark_android_devices(fake_binary[1], ["a0737173", "GONE"], binary=fake_binary[0], runner=RecordedAdb())
    assert rows[0]["target"] == "android:a0737173" and rows[0]["error"] is None
    assert rows[1] == {"target": "android:GONE", "error": "device GONE is not attached (attached: a0737173)"}


def test_these_modules_do_not_import_tensorflow():
    import subprocess as sp
    import sys

    code = "import sys, tflite_edge.bench.android, tflite_edge.bench.ssh, tflite_edge.bench.parse; print('tensorflow' in sys.modules)"
    out = sp.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=60)
    assert out.stdout.strip() == "False", out.stderr
