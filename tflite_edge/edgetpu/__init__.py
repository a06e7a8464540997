"""Edge TPU: predict what `edgetpu_compiler` will map, run it when installed, parse its log.

The compiler only runs on x86-64 Linux and explains failures tersely, so `check_model` applies
Coral's documented requirements (https://coral.ai/docs/edgetpu/models-intro/) on any host, reading
the .tflite through the flatbuffer schema bindings that ai_edge_litert ships. Statuses use the
compiler's own vocabulary so a prediction and a real `-s` log read the same.

    graph.py         loading the flatbuffer, TFLiteGraph
    rules.py         the documented requirements, the compiler's status strings
    layers.py        which Keras layer an op comes from
    checker.py       check_model: statuses, findings, fixes, verdict
    op_versions.py   operator versions against the compiler's TensorFlow (2.5)
    report_text.py   the report as a screenful of text (CLI and `check`)
    compiler.py      find_compiler, compiler_command, compile_model
    compiler_log.py  parse_compiler_log

    >>> report = check_model(Path("model_int8.tflite"))          # doctest: +SKIP
    >>> report["verdict"], report["on_tpu"], report["on_cpu"]    # doctest: +SKIP
    ('all_on_tpu', 6, 0)
"""
from .checker import check_model
from .compiler import compile_model, compiler_command, find_compiler
from .compiler_log import parse_compiler_log
from .graph import TFLiteGraph, load_flatbuffer
from .layers import load_keras_layers
from .rules import (BAD_DTYPE, BAD_RANK, DOCS_URL, DYNAMIC, MAPPED, NOT_CONSTANT, NOT_SUPPORTED,
                    PARTITIONED, SUPPORTED_OPS, UNSPECIFIED)

__all__ = [
    "BAD_DTYPE", "BAD_RANK", "DOCS_URL", "DYNAMIC", "MAPPED", "NOT_CONSTANT", "NOT_SUPPORTED",
    "PARTITIONED", "SUPPORTED_OPS", "UNSPECIFIED", "TFLiteGraph", "check", "check_model", "compile_model",
    "compiler_command", "find_compiler", "load_flatbuffer", "load_keras_layers", "parse_compiler_log",
]


def check(model, keras=None):
    """`tflite_edge.edgetpu.check("m_edgetpu_ready.tflite")`: the `edgetpu check` report as a dict
    that shows itself as the command's text (findings grouped by cause, the verdict's blockers)."""
    from pathlib import Path

    from ..result import Result
    from .report_text import check_text

    report = check_model(Path(model), Path(keras) if keras is not None else None)
    return Result(report, "\n".join(check_text(report)))
