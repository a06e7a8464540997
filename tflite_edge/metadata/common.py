"""What the metadata writer and reader share: names from the schema, the model's flatbuffer."""
from __future__ import annotations

import struct
from typing import Dict, List, Optional

from ..errors import UserInputError
from ..tasks import TASK_NAMES

METADATA_NAME = "TFLITE_METADATA"
TASKS = TASK_NAMES  # the task registry: tasks.TASKS
COLOR_SPACES = ("RGB", "GRAYSCALE")
LABELS_FILE = "labels.txt"
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
# The op's outputs in its own order, and the tensor names the official writer gives them.
DETECTION_ROLES = ("boxes", "classes", "scores", "count")
DETECTION_NAMES = {"boxes": "location", "classes": "category", "scores": "score",
                   "count": "number of detections"}
FLATBUFFER_ERRORS = (IndexError, ValueError, TypeError, AttributeError, UnicodeDecodeError, struct.error)


def litert_schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def enum_names(enum_cls) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def as_text(value) -> str:
    # a damaged byte shows as U+FFFD rather than failing the whole read
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else (value or "")


def detection_output_roles(model) -> Optional[List[str]]:
    """Role of each model output ("boxes", "classes", "scores", "count"), traced through the
    TFLite_Detection_PostProcess op (the converter reorders outputs), or None without that op.

    `model` is the ModelT of ai_edge_litert's schema bindings, or .tflite bytes."""
    if isinstance(model, (bytes, bytearray)):
        model = unpack_model(bytes(model), "model")
    sub = model.subgraphs[0]
    for op in sub.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        if as_text(code.customCode) == POSTPROCESS_OP and len(op.outputs) == 4:
            role_of = dict(zip((int(t) for t in op.outputs), DETECTION_ROLES))
            outputs = [int(t) for t in sub.outputs]
            if sorted(outputs) == sorted(role_of):
                return [role_of[t] for t in outputs]
    return None


def unpack_model(data: bytes, where: str):
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserInputError(f"{where}: not a TFLite model (no TFL3 identifier)")
    s = litert_schema()
    try:
        return s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    except FLATBUFFER_ERRORS as e:
        raise UserInputError(f"{where}: unreadable TFLite flatbuffer ({type(e).__name__}); "
                             "export the model again") from None

