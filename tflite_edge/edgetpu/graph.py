"""Reading a .tflite flatbuffer: loading with clear errors, and the lookups the Edge TPU rules need."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError


def int_list(values) -> list[int]:
    """A flatbuffer vector (a numpy array, or None when absent) as a list of ints."""
    return [] if values is None else [int(v) for v in values]


def _schema():
    # ai_edge_litert ships the generated bindings; importing them does not start TensorFlow.
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def load_flatbuffer(path: Path):
    """The model as the schema's object API (`ModelT`); user errors become UserInputError."""
    from ..model_file import load_model_file

    return load_model_file(path)


class TFLiteGraph:
    """Subgraph 0 of a loaded model with the lookups the rules need.

        >>> g = TFLiteGraph(load_flatbuffer(Path("m.tflite")), Path("m.tflite"))  # doctest: +SKIP
        >>> [g.op_name(op) for op in g.sg.operators]                          # doctest: +SKIP
        ['CONV_2D', 'SOFTMAX']
    """

    def __init__(self, model, path: Path):
        s = _schema()
        self.model, self.path = model, path
        self.sg = model.subgraphs[0]
        self.op_names = _enum_names(s.BuiltinOperator)
        self.type_names = _enum_names(s.TensorType)
        self.inputs = set(int_list(self.sg.inputs))
        self.outputs = int_list(self.sg.outputs)
        self.producer = {t: i for i, op in enumerate(self.sg.operators or []) for t in int_list(op.outputs)}

    def op_name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        # Codes above 127 live only in builtin_code; older files only fill the deprecated byte.
        number = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
        name = self.op_names.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM" and code.customCode:
            return code.customCode.decode(errors="replace")
        return name

    def tensor(self, index: int):
        return self.sg.tensors[index]

    def name(self, index: int) -> str:
        raw = self.tensor(index).name
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")

    def dtype(self, index: int) -> str:
        return self.type_names.get(int(self.tensor(index).type), "UNKNOWN")

    def shape(self, index: int) -> list[int]:
        t = self.tensor(index)
        sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
        return int_list(sig)

    def is_constant(self, index: int) -> bool:
        t = self.tensor(index)
        buf = self.model.buffers[t.buffer] if t.buffer else None
        return buf is not None and ((buf.data is not None and len(buf.data) > 0) or bool(buf.offset))

    def const_values(self, index: int) -> list[int]:
        import numpy as np

        t, dtype = self.tensor(index), self.dtype(index)
        raw = self.model.buffers[t.buffer].data
        np_type = {"INT32": np.int32, "INT64": np.int64, "INT8": np.int8, "UINT8": np.uint8}.get(dtype)
        if raw is None or np_type is None:
            return []
        data = bytes(np.asarray(raw, np.uint8))
        if len(data) % np.dtype(np_type).itemsize:
            raise UserInputError(f"{self.path}: constant '{self.name(index)}' holds {len(data)} bytes, "
                                 f"not whole {dtype} values: the file is corrupt; re-export it")
        return [int(v) for v in np.frombuffer(data, np_type)]
