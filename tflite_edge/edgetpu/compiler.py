"""Running `edgetpu_compiler` (x86-64 Linux only) and collecting its parsed log."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .compiler_log import parse_compiler_log
from .graph import load_flatbuffer
from ..errors import DeviceUnavailable, EdgeError, UserInputError


def find_compiler() -> Path | None:
    """The `edgetpu_compiler` on PATH, or None (it exists only for x86-64 Linux)."""
    found = shutil.which("edgetpu_compiler")
    return Path(found) if found else None


def compiler_command(tflite_path: Path, out_dir: Path, *, num_segments: int | None = None,
                     intermediate_tensors: list[str] | None = None, search_delegate: bool = False,
                     delegate_search_step: int | None = None, compiler: Path | str = "edgetpu_compiler"
                     ) -> list[str]:
    """The argv for one compilation; refuses option combinations the compiler rejects."""
    cmd = [str(compiler), "-s", "-o", str(out_dir)]
    if num_segments is not None:
        if int(num_segments) < 1:
            raise UserInputError(f"num_segments={num_segments}: must be 1 or more")
        cmd += ["-n", str(int(num_segments))]
    if intermediate_tensors:
        cmd += ["-i", ",".join(intermediate_tensors)]
    if delegate_search_step is not None and not search_delegate:
        raise UserInputError("delegate_search_step needs search_delegate (-k only works with -d)")
    if search_delegate:
        cmd.append("-d")
        if delegate_search_step is not None:
            if int(delegate_search_step) < 1:
                raise UserInputError(f"delegate_search_step={delegate_search_step}: must be 1 or more")
            cmd += ["-k", str(int(delegate_search_step))]
    cmd.append(str(tflite_path))
    return cmd


def compile_model(tflite_path, out_dir, *, num_segments=None, intermediate_tensors=None,
                  search_delegate=False, delegate_search_step=None, timeout_s=600) -> dict:
    """Run `edgetpu_compiler -s -o OUT ...` and return its parsed log (see parse_compiler_log)."""
    tflite_path, out_dir = Path(tflite_path), Path(out_dir)
    load_flatbuffer(tflite_path)  # a clear error beats the compiler's "Invalid model"
    cmd = compiler_command(tflite_path, out_dir, num_segments=num_segments,
                           intermediate_tensors=intermediate_tensors, search_delegate=search_delegate,
                           delegate_search_step=delegate_search_step)
    compiler = find_compiler()
    if compiler is None:
        raise DeviceUnavailable("edgetpu_compiler not found on PATH; install it on x86-64 Linux with "
                                "converters/install_edgetpu_compiler.sh (see converters/README.md)")
    cmd[0] = str(compiler)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EdgeError(f"{tflite_path}: edgetpu_compiler ran over {timeout_s}s; raise timeout_s "
                        "or split the model with num_segments") from None
    text = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
    result = parse_compiler_log(text)
    result.update({"command": cmd, "returncode": proc.returncode, "log": text})
    if proc.returncode != 0:
        result["compiled"] = False
    (out_dir / f"{tflite_path.stem}_edgetpu_compiler.txt").write_text(text)
    return result
