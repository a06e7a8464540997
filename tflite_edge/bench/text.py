"""One benchmark record as the one line `tflite-edge bench` prints (and the Python API shows)."""
from __future__ import annotations


def bench_line(r: dict) -> str:
    """`MODEL [target, N thread(s), delegate]: p50 .. p90 .. mean .. init .. peak ..` plus notes."""
    return (f"{r['model']} [{r['target']}, {r['threads']} thread(s), {r.get('delegate')}]: "
            + "  ".join(f"{label} {r[key]:.3f} ms" for label, key in
                        (("p50", "latency_ms_p50"), ("p90", "latency_ms_p90"), ("mean", "latency_ms_mean"),
                         ("init", "init_ms")) if r.get(key) is not None)
            + (f"  peak {r['peak_memory_mb']:.0f} MB" if r.get("peak_memory_mb") else "")
            + (f"  [{r['engine']}]" if r.get("engine") else "")
            + (f"  NOTE: {r['engine_fallback']}" if r.get("engine_fallback") else "")
            + (f"  WARNING: {r['fallback_warning']}" if r.get("fallback_warning") else ""))
