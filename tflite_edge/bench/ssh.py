"""Linux boards over SSH (Raspberry Pi, Coral Dev Board, any host): run our own host harness there.

The model (and optionally the evaluation set) is copied with scp, then
`python3 -m tflite_edge.bench.host_worker ...` runs on the board and prints one JSON object,
so latency and accuracy are measured on the board itself. The transport is injectable:
tests use `LocalTransport`, which runs the same commands as local subprocesses.

    >>> benchmark_ssh(Path("m.tflite"), "pi@raspberrypi.local", threads=[1, 4])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tflite_edge.bench.options import PYTHON_WORKER, WARMUP_MIN_S
from tflite_edge.bench.record import BenchRecord
from tflite_edge.errors import DeviceUnavailable, UserInputError

REMOTE_DIR = "/tmp/tflite_edge"
WORKER = ("python3", "-m", "tflite_edge.bench.host_worker")
SSH_TIMEOUT_S = 30
RUN_TIMEOUT_S = 3600


class Transport(Protocol):
    name: str

    def copy(self, local: Path, remote: str) -> None: ...

    def run(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess: ...


class OpenSshTransport:
    """`ssh`/`scp` in batch mode: a password prompt would hang a benchmark, so keys are required."""

    def __init__(self, destination: str, *, ssh: Sequence[str] = ("ssh",), scp: Sequence[str] = ("scp",)):
        self.destination = destination
        self.name = f"ssh:{destination}"
        self._ssh = list(ssh)
        self._scp = list(scp)
        self._opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={SSH_TIMEOUT_S}"]

    def copy(self, local: Path, remote: str) -> None:
        proc = _call([*self._scp, *self._opts, "-q", str(local), f"{self.destination}:{remote}"], RUN_TIMEOUT_S)
        if proc.returncode != 0:
            raise DeviceUnavailable(f"{self.name}: scp of {local.name} failed: {proc.stderr.strip()}")

    def run(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
        proc = _call([*self._ssh, *self._opts, self.destination, shlex.join(argv)], timeout)
        # ssh itself exits 255 on connection or authentication failure; the remote command never ran.
        if proc.returncode == 255:
            raise DeviceUnavailable(f"{self.name}: cannot connect ({proc.stderr.strip() or 'ssh exit 255'}); "
                                    "check the address and that key login works: ssh -o BatchMode=yes " + self.destination)
        return proc


class LocalTransport:
    """Runs the worker on this machine, with `root` standing in for the board's file system."""

    def __init__(self, root: Path, *, name: str = "ssh:local"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.name = name

    def copy(self, local: Path, remote: str) -> None:
        target = self.root / remote.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def run(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
        mapped = [str(self.root / a.lstrip("/")) if a.startswith(REMOTE_DIR) else a for a in argv]
        return subprocess.run(mapped, capture_output=True, text=True, timeout=timeout, cwd=self.root)


def _call(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise DeviceUnavailable(f"`{argv[0]}` not found: apt-get install openssh-client") from exc


def worker_argv(model: str, *, threads: int, runs: int, warmup: int, eval_set: str | None,
                worker: Sequence[str] = WORKER, warmup_min_s: float = 0.0, samples: bool = False) -> list[str]:
    """The host_worker command line run on the board."""
    argv = [*worker, "--model", model, "--threads", str(int(threads)), "--runs", str(int(runs)), "--warmup", str(int(warmup))]
    if warmup_min_s:
        argv += ["--warmup-min-secs", repr(float(warmup_min_s))]
    if samples:
        argv.append("--samples")
    if eval_set is not None:
        argv += ["--eval-set", eval_set]
    return argv


def parse_worker_output(stdout: str) -> dict[str, Any]:
    """The last JSON object line the worker printed (libraries may log lines before it)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    raise DeviceUnavailable(f"host_worker printed no JSON result: {stdout.strip()[-300:] or '(empty)'}")


def _worker_failure(proc: subprocess.CompletedProcess, target: str) -> str:
    err = (proc.stderr or "").strip()
    if "No module named" in err and "tflite_edge" in err:
        return f"{target}: tflite-edge is not installed on the board (pip install tflite-edge there)"
    if "No module named" in err and "ai_edge_litert" in err:
        return f"{target}: ai-edge-litert is not installed on the board (pip install ai-edge-litert there)"
    last = err.splitlines()[-1] if err else f"exit status {proc.returncode}"
    return f"{target}: host_worker failed: {last}"


def board_facts(transport: Transport) -> dict[str, Any]:
    """Board name (device-tree model on Pi/Coral), kernel, architecture and core count."""
    script = "cat /proc/device-tree/model 2>/dev/null; echo; uname -srm; nproc"
    proc = transport.run(["sh", "-c", script], SSH_TIMEOUT_S)
    lines = [line.replace("\x00", "").strip() for line in proc.stdout.splitlines()]
    model, kernel, cores = (lines + ["", "", ""])[:3] if len(lines) >= 3 else ("", "", "")
    return {"model": model or None, "kernel": kernel or None, "cores": int(cores) if cores.isdigit() else None}


def benchmark_ssh(
    model_path: Path,
    destination: str,
    *,
    threads: Sequence[int] = (1,),
    runs: int = 50,
    warmup: int = 5,
    warmup_min_s: float = WARMUP_MIN_S,
    processes: int = 1,
    eval_set: Path | None = None,
    transport: Transport | None = None,
    worker: Sequence[str] = WORKER,
) -> list[dict[str, Any]]:
    """Benchmark `model_path` on an SSH host, one result per thread count (host-benchmark fields).

    `eval_set` (the run's evaluation arrays) is copied too and passed as `--eval-set`, so the
    worker can report accuracy measured on the board. `processes` > 1 pools timings from that many
    worker processes, as on the host (accuracy is measured once, by the first).
    """
    from .host import pool_processes, process_shares

    shares = process_shares(runs, processes)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise UserInputError(f"model not found: {model_path}")
    if eval_set is not None and not Path(eval_set).is_file():
        raise UserInputError(f"evaluation set not found: {eval_set}")
    transport = transport or OpenSshTransport(destination)
    transport.run(["mkdir", "-p", REMOTE_DIR], SSH_TIMEOUT_S)
    remote_model = f"{REMOTE_DIR}/{model_path.name}"
    transport.copy(model_path, remote_model)
    remote_eval = None
    if eval_set is not None:
        remote_eval = f"{REMOTE_DIR}/{Path(eval_set).name}"
        transport.copy(Path(eval_set), remote_eval)
    facts = board_facts(transport)
    results = []
    for t in threads:
        parts, error = [], None
        for i, n in enumerate(shares):
            argv = worker_argv(remote_model, threads=t, runs=n, warmup=warmup, eval_set=remote_eval if i == 0 else None,
                               worker=worker, warmup_min_s=warmup_min_s, samples=len(shares) > 1)
            proc = transport.run(argv, RUN_TIMEOUT_S)
            if proc.returncode != 0:
                error = _worker_failure(proc, transport.name)
                break
            parts.append(parse_worker_output(proc.stdout))
        if error is not None:
            results.append(BenchRecord(target=transport.name, model=model_path.name, threads=int(t), error=error))
            continue
        row = BenchRecord.from_dict(parts[0]) if len(parts) == 1 else pool_processes(parts)
        results.append(row.update(target=transport.name, model=model_path.name, device=facts, engine=PYTHON_WORKER))
    return [r.to_dict() for r in results]
