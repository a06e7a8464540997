"""A .tflite file checked once, with one message per fault whoever reads it (predict, bench,
edgetpu check, the Python API): the file's path, what is wrong, how to fix it."""
from __future__ import annotations

from pathlib import Path

from .errors import UserInputError


def not_found(path: Path) -> UserInputError:
    return UserInputError(f"{path}: file not found; pass the path of a .tflite model")


def load_model_file(path: Path):
    """The model as ai_edge_litert's schema object API (`ModelT`), every index checked."""
    path = Path(path)
    if not path.is_file():
        raise not_found(path)
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserInputError(f"{path}: not a TFLite model (no TFL3 identifier); pass a .tflite written by "
                             "the TFLite converter (`tflite-edge convert`)")
    from ai_edge_litert import schema_py_generated as s  # the bindings only: no TensorFlow

    try:
        model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
        _validate_indices(model)
    except Exception as e:  # any decoding failure of a damaged buffer, whatever its type
        raise UserInputError(f"{path}: truncated or corrupt TFLite model ({type(e).__name__}); re-export it "
                             "with the TFLite converter") from None
    return model


def check_model_file(path: Path) -> None:
    """Refuse a missing, foreign, truncated or corrupt .tflite before any interpreter touches it."""
    load_model_file(path)


def _int_list(values) -> list:
    return [] if values is None else [int(v) for v in values]


def _validate_indices(model) -> None:
    if not model.subgraphs:
        raise ValueError("no subgraphs")
    n_buffers, n_codes = len(model.buffers or []), len(model.operatorCodes or [])
    for sg in model.subgraphs:
        n_tensors = len(sg.tensors or [])
        for t in sg.tensors or []:
            if not 0 <= t.buffer < max(n_buffers, 1):
                raise ValueError("tensor buffer index out of range")
        for op in sg.operators or []:
            if not 0 <= op.opcodeIndex < n_codes:
                raise ValueError("opcode index out of range")
            if not _int_list(op.outputs):
                raise ValueError("operator without outputs")
            for i in _int_list(op.inputs) + _int_list(op.outputs):
                if not -1 <= i < n_tensors:
                    raise ValueError("tensor index out of range")
