"""Parsing an `edgetpu_compiler -s` log (stdout or the .log it writes) into fields."""
from __future__ import annotations

import re

from .rules import MAPPED

_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
_HEADER_FIELDS = {
    "input_model": r"^Input model: (.+)$",
    "output_model": r"^Output model: (.+)$",
    "operation_log": r"^Operation log: (.+)$",
    "compiler_version": r"^Edge TPU Compiler version (\S+)",
}
_SIZE_FIELDS = {
    "input_size_bytes": r"^Input size: (\S+)$",
    "output_size_bytes": r"^Output size: (\S+)$",
    "on_chip_memory_used_bytes": r"^On-chip memory used for caching model parameters: (\S+)$",
    "on_chip_memory_remaining_bytes": r"^On-chip memory remaining for caching model parameters: (\S+)$",
    "off_chip_memory_used_bytes": r"^Off-chip memory used for streaming uncached model parameters: (\S+)$",
}
_INT_FIELDS = {
    "edgetpu_subgraphs": r"^Number of Edge TPU subgraphs: (\d+)$",
    "total_operations": r"^Total number of operations: (\d+)$",
    "compile_time_ms": r"^Model compiled successfully in (\d+) ms",
    "delegate_search_step": r"^Searching for valid delegate with step (\d+)$",
}
_OP_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\S.*?)\s*$")


def _size_bytes(text: str) -> int | None:
    m = re.fullmatch(r"([\d.]+)(B|KiB|MiB|GiB)", text)
    return round(float(m.group(1)) * _SIZE_UNITS[m.group(2)]) if m else None


def parse_compiler_log(text: str) -> dict:
    """Fields of an `edgetpu_compiler -s` run (stdout or the .log it writes); absent fields are None.

        >>> parse_compiler_log("Edge TPU Compiler version 16.0.384591198\\n")["compiler_version"]
        '16.0.384591198'
    """
    lines = [l.rstrip() for l in text.splitlines()]
    result: dict = {k: _last_match(lines, p) for k, p in _HEADER_FIELDS.items()}
    result["input_model"] = result["input_model"] or _last_match(lines, r"^Input: (.+)$")
    result["output_model"] = result["output_model"] or _last_match(lines, r"^Output: (.+)$")
    for key, pattern in _SIZE_FIELDS.items():
        found = _last_match(lines, pattern)
        result[key] = _size_bytes(found) if found else None
    for key, pattern in _INT_FIELDS.items():
        found = _last_match(lines, pattern)
        result[key] = int(found) if found else None
    result["output_models"] = [m.group(1) for l in lines if (m := re.match(r"^Output model: (.+)$", l))]
    result["segments_tried"] = [int(m.group(1)) for l in lines
                                if (m := re.match(r"^Try to compile segment with (\d+) ops$", l))]
    result["ops"] = _parse_op_table(lines)
    result["errors"] = _parse_errors(lines)
    result["compiled"] = _compiled(lines)
    result["ops_on_tpu"], result["ops_on_cpu"] = _op_counts(lines, result["ops"])
    return result


def _last_match(lines: list[str], pattern: str) -> str | None:
    found = None
    for line in lines:
        m = re.match(pattern, line)
        if m:
            found = m.group(1).strip()
    return found


def _parse_op_table(lines: list[str]) -> list[dict]:
    rows, in_table = [], False
    for line in lines:
        if re.match(r"^Operator\s+Count\s+Status$", line):
            in_table, rows = True, []  # with -n, keep the last segment's table
            continue
        if not in_table or not line.strip():
            continue
        m = _OP_ROW.match(line)
        if not m:
            in_table = False
            continue
        rows.append({"op": m.group(1), "count": int(m.group(2)), "status": m.group(3),
                     "on_tpu": m.group(3) == MAPPED})
    return rows


def _parse_errors(lines: list[str]) -> list[str]:
    errors = [l for l in lines if l.startswith(("ERROR:", "Compilation failed", "Internal compiler error"))]
    for i, line in enumerate(lines):
        if line.startswith("Invalid model:"):
            errors.append(line + (f" ({lines[i + 1].strip()})" if i + 1 < len(lines) else ""))
    return errors


def _compiled(lines: list[str]) -> bool | None:
    if any(l.startswith("Model compiled successfully") for l in lines):
        return True
    if any(l.startswith(("Compilation failed", "Invalid model:", "Internal compiler error")) for l in lines):
        return False
    return None


def _op_counts(lines: list[str], rows: list[dict]) -> tuple[int | None, int | None]:
    tpu = _last_match(lines, r"^Number of operations that will run on Edge TPU: (\d+)$")
    cpu = _last_match(lines, r"^Number of operations that will run on CPU: (\d+)$")
    if tpu is not None and cpu is not None:
        return int(tpu), int(cpu)
    if not rows:
        return None, None
    # A fully mapped model prints no count lines; the table then holds them.
    on_tpu = sum(r["count"] for r in rows if r["on_tpu"])
    return on_tpu, sum(r["count"] for r in rows) - on_tpu
