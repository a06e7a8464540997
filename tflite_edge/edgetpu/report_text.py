"""The `edgetpu check` report as a screenful of text: counts, one line per cause (how many
operations, which op types and layers first, why, the fix), the verdict with every blocker.
The op-by-op table is `--ops` (or the JSON), since a 65-op model would fill several screens."""
from __future__ import annotations

from .rules import MAPPED

_FIRST = 3  # op types and layers named per cause


def _first(items: list, what: str) -> str:
    shown = ", ".join(f"'{i}'" if what == "layers" else str(i) for i in items[:_FIRST])
    more = f" and {len(items) - _FIRST} more" if len(items) > _FIRST else ""
    return f"{what} {shown}{more}" if items else ""


def check_text(report: dict, ops: bool = False) -> list[str]:
    """The report's lines; `ops` adds one line per operation first."""
    lines = [f"Edge TPU check: {report['model']}"]
    if ops:
        for o in report["ops"]:
            mark = "ok" if o["status"] == MAPPED else "CPU"
            lines.append(f"  {o['index']:>4} {o['op']:<24} {o['layer'] or '-':<28} {mark}"
                         + ("" if o["status"] == MAPPED else f": {o['status']}"))
    total = len(report["ops"])
    lines.append(f"{total} operations: {report['on_tpu']} on the Edge TPU, {report['on_cpu']} on the CPU; "
                 f"fully 8-bit: {'yes' if report['fully_quantized'] else 'no'}")
    fixes = []
    for c in report["causes"]:
        where = "; ".join(p for p in (_first(c["op_types"], "ops"), _first(c["layers"], "layers")) if p)
        lines.append(f"  x {c['rule']}: {c['count']} operation(s) ({where}): {c['reason']}" if where else
                     f"  x {c['rule']}: {c['reason']}")
        if c["fix"] and c["fix"] not in fixes:
            fixes.append(c["fix"])
            lines.append(f"    fix: {c['fix']}")
    lines.append(f"{report['verdict']}: {report['summary']}")
    return lines
