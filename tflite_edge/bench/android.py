"""Android benchmark: push LiteRT's `benchmark_model` and a model, run a threads x delegates matrix.

The device side is `android_bench/run_matrix.sh`; a transport moves files and runs it. `AdbTransport`
talks to a phone through the `adb` binary; `LocalShellTransport` runs the very same script on this
machine (tests, and a sanity check of a Linux `benchmark_model` build).

    >>> results = benchmark_android(Path("m.tflite"), binary=Path("benchmark_model"),
    ...                             threads=[1, 4], delegates=["xnnpack", "gpu"])  # doctest: +SKIP
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from tflite_edge.bench import parse
from tflite_edge.bench.options import WARMUP_MIN_S
from tflite_edge.bench.record import BenchRecord
from tflite_edge.errors import DeviceUnavailable, EdgeError, UserInputError

SCRIPT = Path(__file__).resolve().parents[2] / "android_bench" / "run_matrix.sh"
DEVICE_DIR = "/data/local/tmp/tflite_edge"
MARK = "@@TFLITE_EDGE"
DELEGATES = ("xnnpack", "gpu", "nnapi", "cpu")
ADB_TIMEOUT_S = 60
# A GPU delegate compiles its shaders on first use; a large model at 1 thread can take minutes.
MATRIX_TIMEOUT_S = 3600

Runner = Callable[..., subprocess.CompletedProcess]

_UNAUTHORIZED_FIX = "accept the RSA prompt on the phone (\"Allow USB debugging\"), then rerun"
_NO_ADB_FIX = "apt-get install adb (or put the Android platform-tools `adb` on PATH)"


class Transport(Protocol):
    """Moves files to a device and runs shell command lines there."""

    name: str
    workdir: str

    def push(self, local: Path, remote: str) -> None: ...

    def shell(self, command: str, timeout: float) -> subprocess.CompletedProcess: ...


# ---------------------------------------------------------------------------- adb
def _run_adb(runner: Runner, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        proc = runner(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise DeviceUnavailable(f"`{argv[0]}` not found: {_NO_ADB_FIX}") from exc
    _raise_for_adb_error(proc, argv)
    return proc


def _raise_for_adb_error(proc: subprocess.CompletedProcess, argv: list[str]) -> None:
    """Turn adb's own failures (not the remote command's) into DeviceUnavailable.

    adb exits 1 and writes "error: ..." / "adb: ..." on stderr when it cannot reach the device;
    a failing remote command instead returns its own status with adb's stderr empty of these.
    """
    err = (proc.stderr or "").strip()
    first = err.splitlines()[0] if err else ""
    serial = argv[argv.index("-s") + 1] if "-s" in argv else None
    who = f"device {serial}" if serial else "the Android device"
    if "unauthorized" in first:
        raise DeviceUnavailable(f"{who} is unauthorized: {_UNAUTHORIZED_FIX}")
    if "no devices/emulators found" in first:
        raise DeviceUnavailable("no Android device attached: connect one with USB debugging on (`adb devices -l`)")
    if first.startswith(("error: device '", "adb: device '")) and "not found" in first:
        raise DeviceUnavailable(f"{who} is not attached (`adb devices -l` lists what is)")
    if "offline" in first and first.startswith(("error:", "adb:")):
        raise DeviceUnavailable(f"{who} is offline: replug the cable or run `adb reconnect`")
    if "more than one device" in first:
        raise UserInputError("several Android devices attached: choose one with --target android:SERIAL")


class AdbTransport:
    """A phone reached through the `adb` binary; `runner` is `subprocess.run` or a test double."""

    def __init__(self, serial: str, *, adb: str = "adb", runner: Runner = subprocess.run, workdir: str = DEVICE_DIR):
        self.serial = serial
        self.name = f"android:{serial}"
        self.workdir = workdir
        self._adb = adb
        self._runner = runner

    def _argv(self, *args: str) -> list[str]:
        return [self._adb, "-s", self.serial, *args]

    def push(self, local: Path, remote: str) -> None:
        proc = _run_adb(self._runner, self._argv("push", str(local), remote), ADB_TIMEOUT_S * 5)
        if proc.returncode != 0:
            raise DeviceUnavailable(f"adb push {local.name} to {self.name} failed: {proc.stderr.strip()}")

    def shell(self, command: str, timeout: float = ADB_TIMEOUT_S) -> subprocess.CompletedProcess:
        return _run_adb(self._runner, self._argv("shell", command), timeout)


class LocalShellTransport:
    """Runs the device-side script on this machine, in `workdir` (tests use a temporary folder)."""

    def __init__(self, workdir: Path, *, name: str = "local"):
        self.workdir = str(workdir)
        self.name = name
        Path(workdir).mkdir(parents=True, exist_ok=True)

    def push(self, local: Path, remote: str) -> None:
        shutil.copyfile(local, remote)

    def shell(self, command: str, timeout: float = ADB_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout, cwd=self.workdir)


# ---------------------------------------------------------------------------- devices
def list_devices(*, adb: str = "adb", runner: Runner = subprocess.run) -> list[dict[str, Any]]:
    """Devices as `adb devices -l` lists them: `[{serial, state, model, ...}]` (any state)."""
    proc = _run_adb(runner, [adb, "devices", "-l"], ADB_TIMEOUT_S)
    return parse.parse_adb_devices(proc.stdout)


def resolve_serial(serial: str | None, devices: Sequence[Mapping[str, Any]]) -> str:
    """Pick the device to use, or say precisely why none can be used."""
    if serial is None:
        ready = [d["serial"] for d in devices if d["state"] == "device"]
        if len(ready) == 1:
            return ready[0]
        if len(ready) > 1:
            raise UserInputError(
                f"several Android devices attached ({', '.join(ready)}): choose one with --target android:SERIAL"
            )
        if not devices:
            raise DeviceUnavailable("no Android device attached: connect one with USB debugging on (`adb devices -l`)")
        return _check_state(devices[0])
    match = next((d for d in devices if d["serial"] == serial), None)
    if match is None:
        listed = ", ".join(d["serial"] for d in devices) or "none"
        raise DeviceUnavailable(f"device {serial} is not attached (attached: {listed})")
    return _check_state(match)


def _check_state(device: Mapping[str, Any]) -> str:
    state, serial = device["state"], device["serial"]
    if state == "device":
        return serial
    if state == "unauthorized":
        raise DeviceUnavailable(f"device {serial} is unauthorized: {_UNAUTHORIZED_FIX}")
    if state == "offline":
        raise DeviceUnavailable(f"device {serial} is offline: replug the cable or run `adb reconnect`")
    if state.startswith("no permissions"):
        raise DeviceUnavailable(f"device {serial}: no permissions for the USB device (install udev rules: apt-get install android-sdk-platform-tools-common)")
    raise DeviceUnavailable(f"device {serial} is in state '{state}', not ready for benchmarking")


_FACT_PROPS = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "android_version": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi",
}


def facts_from_props(props: Mapping[str, str], cpus_possible: str) -> dict[str, Any]:
    """Device facts from getprop and /sys/devices/system/cpu/possible."""
    facts: dict[str, Any] = {key: props.get(prop) for key, prop in _FACT_PROPS.items()}
    # ro.soc.model exists since Android 12; older phones only name the board platform.
    facts["soc"] = props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware")
    facts["soc_manufacturer"] = props.get("ro.soc.manufacturer")
    facts["cores"] = parse.count_cpus(cpus_possible)
    return facts


def device_facts(serial: str | None = None, *, transport: Transport | None = None, runner: Runner = subprocess.run) -> dict[str, Any]:
    """Model, SoC, Android version and core count of a device (`serial`, or the only one attached)."""
    if transport is None:
        transport = AdbTransport(resolve_serial(serial, list_devices(runner=runner)), runner=runner)
    props = parse.parse_getprop(transport.shell("getprop", ADB_TIMEOUT_S).stdout)
    cpus = transport.shell("cat /sys/devices/system/cpu/possible", ADB_TIMEOUT_S).stdout
    facts = facts_from_props(props, cpus)
    facts["serial"] = getattr(transport, "serial", None)
    return facts


# ---------------------------------------------------------------------------- the matrix
def _validate(model_path: Path, binary: Path | None, threads: Sequence[int], delegates: Sequence[str]) -> None:
    if binary is None or not Path(binary).is_file():
        raise UserInputError(
            f"android benchmark binary {'not given' if binary is None else f'not found: {binary}'}; download "
            "the official arm64 build (android_aarch64_benchmark_model, see android_bench/README.md) and pass "
            "--benchmark-binary PATH (recipe: benchmark.android_binary)"
        )
    if not Path(model_path).is_file():
        raise UserInputError(f"model not found: {model_path}")
    unknown = [d for d in delegates if d not in DELEGATES]
    if unknown:
        raise UserInputError(f"unknown delegate(s) {unknown}; allowed: {', '.join(DELEGATES)}")
    if not threads or any(int(t) < 1 for t in threads):
        raise UserInputError(f"threads must be positive integers, got {list(threads)}")


def matrix_command(
    workdir: str, *, threads: Sequence[int], delegates: Sequence[str], runs: int, warmup: int,
    cpu_mask: str | None, profile_ops: bool, warmup_min_s: float = 0.0,
) -> str:
    """The shell line that runs `run_matrix.sh` in `workdir` on the device."""
    argv = [
        "sh", f"{workdir}/run_matrix.sh",
        "--binary", f"{workdir}/benchmark_model",
        "--graph", f"{workdir}/model.tflite",
        "--threads", ",".join(str(int(t)) for t in threads),
        "--delegates", ",".join(delegates),
        "--runs", str(int(runs)),
        "--warmup", str(int(warmup)),
    ]
    if warmup_min_s:
        argv += ["--warmup-min-secs", repr(float(warmup_min_s))]
    if cpu_mask:
        argv += ["--cpu-mask", cpu_mask]
    if profile_ops:
        argv.append("--profile")
    return shlex.join(argv)


def split_matrix_output(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Split `run_matrix.sh` output into per-configuration chunks and script-level notes.

    Returns `([{threads, delegate, rc, output}], notes)`; a `begin` without `end` (the device
    dropped off mid-run) yields a chunk with `rc=None`.
    """
    chunks: list[dict[str, Any]] = []
    notes: list[str] = []
    current: dict[str, Any] | None = None
    body: list[str] = []
    for line in text.splitlines():
        if not line.startswith(MARK + " "):
            if current is not None:
                body.append(line)
            continue
        kind, _, rest = line[len(MARK) + 1 :].partition(" ")
        fields = dict(item.split("=", 1) for item in rest.split() if "=" in item)
        if kind == "begin":
            current, body = {"threads": int(fields["threads"]), "delegate": fields["delegate"], "rc": None}, []
        elif kind == "end" and current is not None:
            current.update(rc=int(fields["rc"]), output="\n".join(body))
            chunks.append(current)
            current = None
        else:
            notes.append(f"{kind} {rest}".strip())
    if current is not None:
        current["output"] = "\n".join(body)
        chunks.append(current)
    return chunks, notes


def _script_error(notes: Iterable[str]) -> str | None:
    for note in notes:
        if note.startswith("error binary-missing") or note.startswith("error binary-not-executable"):
            return f"benchmark binary unusable on the device ({note.split(' ', 1)[1]})"
        if note.startswith("error model-missing"):
            return f"model missing on the device ({note.split(' ', 2)[2]})"
    return None


def result_from_chunk(chunk: Mapping[str, Any], *, target: str, model: str, runs: int, warmup: int,
                      device: Mapping[str, Any] | None, pinned: str | None) -> dict[str, Any]:
    """One result dict in the host-benchmark shape from one configuration's output."""
    summary = parse.summarize_benchmark(chunk["output"], chunk["delegate"])
    if chunk["rc"] is None and summary["error"] is None:
        summary["error"] = "benchmark_model did not finish (device disconnected or killed)"
    elif chunk["rc"] not in (0, None) and summary["error"] is None:
        summary["error"] = f"benchmark_model exited with status {chunk['rc']}"
    record = BenchRecord(target=target, engine="benchmark_model", model=model, threads=chunk["threads"],
                         delegate=chunk["delegate"], runs=runs, warmup=warmup, cpu_mask=pinned)
    return record.update(**summary).update(device=dict(device) if device else None).to_dict()


def benchmark_android(
    model_path: Path,
    *,
    serial: str | None = None,
    binary: Path | None = None,
    threads: Sequence[int] = (1,),
    delegates: Sequence[str] = ("xnnpack",),
    runs: int = 50,
    warmup: int = 5,
    warmup_min_s: float = WARMUP_MIN_S,
    cpu_mask: str | None = None,
    profile_ops: bool = False,
    transport: Transport | None = None,
    runner: Runner = subprocess.run,
) -> list[dict[str, Any]]:
    """Run `binary` (LiteRT benchmark_model) over threads x delegates on one device.

    A configuration that fails (say, a delegate that cannot prepare the model) becomes a result
    with `error` set and the others still run. Device-level trouble raises `DeviceUnavailable`.
    """
    model_path, binary = Path(model_path), Path(binary) if binary is not None else None
    _validate(model_path, binary, threads, delegates)
    if transport is None:
        transport = AdbTransport(resolve_serial(serial, list_devices(runner=runner)), runner=runner)
    facts = device_facts(transport=transport) if isinstance(transport, AdbTransport) else None
    transport.shell(f"mkdir -p {shlex.quote(transport.workdir)}", ADB_TIMEOUT_S)
    for local, name in ((binary, "benchmark_model"), (model_path, "model.tflite"), (SCRIPT, "run_matrix.sh")):
        transport.push(local, f"{transport.workdir}/{name}")
    command = matrix_command(transport.workdir, threads=threads, delegates=delegates, runs=runs,
                             warmup=warmup, cpu_mask=cpu_mask, profile_ops=profile_ops,
                             warmup_min_s=warmup_min_s)
    proc = transport.shell(command, MATRIX_TIMEOUT_S)
    chunks, notes = split_matrix_output(proc.stdout)
    if problem := _script_error(notes):
        raise DeviceUnavailable(f"{transport.name}: {problem}")
    if not chunks:
        raise DeviceUnavailable(f"{transport.name}: run_matrix.sh printed nothing usable: {proc.stderr.strip()[:300]}")
    pinned = cpu_mask if f"note taskset={cpu_mask}" in notes else None
    return [
        result_from_chunk(c, target=transport.name, model=model_path.name, runs=runs, warmup=warmup,
                          device=facts, pinned=pinned)
        for c in chunks
    ]


# ---------------------------------------------------------------------------- several targets
def parse_target(spec: str) -> tuple[str, str | None]:
    """`"host"` -> ("host", None); `"android:R58M"` -> ("android", "R58M"); `"ssh:pi@board"` -> ("ssh", "pi@board")."""
    kind, sep, where = spec.partition(":")
    if kind == "host" and not sep:
        return "host", None
    if kind == "android":
        return "android", (where or None)
    if kind == "ssh" and where:
        return "ssh", where
    raise UserInputError(f"unknown target '{spec}'; allowed: host, android, android:SERIAL, ssh:USER@HOST")


def run_targets(jobs: Mapping[str, Callable[[], list[dict[str, Any]]]], *, parallel: bool = True) -> list[dict[str, Any]]:
    """Run one benchmark job per target, in parallel; a failing target becomes `{target, error}`.

    Only errors a target can cause (EdgeError, OSError, subprocess failures) are recorded;
    a bug in our own code still raises, so it is not mistaken for a missing device.
    """
    def guarded(target: str, job: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return job()
        except (EdgeError, OSError, subprocess.SubprocessError) as exc:
            return [BenchRecord(target=target, error=str(exc) or type(exc).__name__).to_dict()]

    if not parallel or len(jobs) < 2:
        return [row for target, job in jobs.items() for row in guarded(target, job)]
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = [pool.submit(guarded, target, job) for target, job in jobs.items()]
        return [row for future in futures for row in future.result()]


def benchmark_android_devices(
    model_path: Path,
    serials: Sequence[str | None],
    *,
    binary: Path | None,
    threads: Sequence[int] = (1,),
    delegates: Sequence[str] = ("xnnpack",),
    runs: int = 50,
    warmup: int = 5,
    warmup_min_s: float = WARMUP_MIN_S,
    cpu_mask: str | None = None,
    profile_ops: bool = False,
    runner: Runner = subprocess.run,
) -> list[dict[str, Any]]:
    """`benchmark_android` on several devices at once; per-device failures become error rows."""
    def job(serial: str | None) -> Callable[[], list[dict[str, Any]]]:
        return lambda: benchmark_android(
            model_path, serial=serial, binary=binary, threads=threads, delegates=delegates, runs=runs,
            warmup=warmup, warmup_min_s=warmup_min_s, cpu_mask=cpu_mask, profile_ops=profile_ops, runner=runner,
        )

    return run_targets({f"android:{s}" if s else "android": job(s) for s in serials})
