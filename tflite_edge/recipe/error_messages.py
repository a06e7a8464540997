"""A pydantic ValidationError as one line per problem: path, what was wrong, what is allowed."""
from __future__ import annotations

from typing import Annotated, List, Union

from pydantic import BaseModel, ValidationError

from ..registry import did_you_mean
from .base import short_repr
from .optimize import OPTIMIZATIONS, step_tag
from .root import Recipe


# The right form of each section, shown when a section has the wrong type (pydantic would say
# "Input should be a valid dictionary or instance of BenchmarkSpec").
SECTION_EXAMPLES = {
    "data": "{dataset: shapes, batch_size: 32}", "model": "{name: mobilenet_v2, width: 0.5}",
    "train": "{epochs: 10, learning_rate: 0.001}", "convert": "{formats: [float32, int8]}",
    "evaluate": "{max_accuracy_drop: 0.01}", "benchmark": "{targets: [host], threads: [1, 2], runs: 100}",
    "teacher": "{sources: [{path: teacher.keras}]}", "optimize": "[{prune: {sparsity: 0.5}}, {qat: {epochs: 2}}]",
    "detector": "{name: ssdlite}", "adaptive": "{exits: [{after: stride_8}]}",
}
_SHAPE_ERRORS = {"model_type": "a mapping", "dict_type": "a mapping", "model_attributes_type": "a mapping",
                 "list_type": "a list"}


def _right_form(loc, kind: str, got) -> str:
    """`KEY: expected a mapping (got 5), e.g. KEY: {...}` for a value of the wrong shape."""
    where, key = _loc_to_path(loc), (str(loc[-1]) if loc else "recipe")
    example = SECTION_EXAMPLES.get(where)
    if example is None and kind == "list_type" and not isinstance(got, (dict, list)):
        example = f"[{got}]"
    shown = "" if isinstance(got, (dict, list)) else f" (got {short_repr(got)})"
    return f"{where}: expected {_SHAPE_ERRORS[kind]}{shown}" + (f", e.g. {key}: {example}" if example else "")


def _loc_to_path(loc) -> str:
    out = ""
    for p in loc:
        if not isinstance(p, int) and (not str(p).isprintable() or len(str(p)) > 60):
            p = short_repr(str(p))  # a key with a newline or 10 kB of text must not break the one line
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _strip_tags(loc, raw):
    """Drop the discriminator tags pydantic puts in `loc` (data.shapes.x -> data.x)."""
    out, node = [], raw
    for i, p in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(node, dict) and (node.get("dataset") == p or
                                       (step_tag(node) == p and nxt == p)):
            continue
        out.append(p)
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _resolve(ann, node):
    """The Spec class behind annotation `ann` for the raw value `node` (unions chosen by tag)."""
    import typing

    origin = typing.get_origin(ann)
    if origin is Annotated:
        return _resolve(typing.get_args(ann)[0], node)
    if origin in (list, List):
        return _resolve(typing.get_args(ann)[0], None)
    if origin is Union:
        members = [_resolve(a, node) for a in typing.get_args(ann) if a is not type(None)]
        members = [m for m in members if m is not None]
        if len(members) == 1:
            return members[0]
        for m in members:
            if isinstance(node, dict) and "dataset" in m.model_fields and \
                    node.get("dataset") in typing.get_args(m.model_fields["dataset"].annotation):
                return m
            if step_tag(node) in m.model_fields and len(m.model_fields) == 1:
                return m
        return None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _fields_for(path, raw) -> List[str]:
    """Allowed keys of the mapping at `path` in the raw recipe (for did-you-mean)."""
    cls, node, pending = Recipe, raw, None
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(p, int):
            cls = _resolve(pending, node) if pending is not None else None
            pending = None
            continue
        field = cls.model_fields.get(p) if cls else None
        if field is None:
            return []
        import typing
        if typing.get_origin(field.annotation) in (list, List):
            pending, cls = typing.get_args(field.annotation)[0], None
        else:
            cls = _resolve(field.annotation, node)
    return list(cls.model_fields) if cls else []


def format_validation_error(e: ValidationError, raw: dict) -> str:
    """One line per problem: `path: what was wrong (got X); allowed Y`."""
    msgs = []
    for err in e.errors():
        loc = _strip_tags(err["loc"], raw)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            fields = _fields_for(loc[:-1], raw)
            hint = did_you_mean(key, fields)
            allowed = f"; allowed: {', '.join(fields)}" if fields and not hint else ""
            msgs.append(f"{_loc_to_path(loc)}: unknown key{hint}{allowed}")
        elif kind == "union_tag_invalid":
            got = err["ctx"]["tag"]
            tags = [t.strip(" '") for t in err["ctx"]["expected_tags"].split(",")]
            msgs.append(f"{_loc_to_path(loc)}.{err['ctx']['discriminator'].strip(chr(39))}: unknown "
                        f"value '{got}'{did_you_mean(got, tags)}; allowed: {', '.join(tags)}")
        elif kind == "union_tag_not_found":
            msgs.append(f"{_loc_to_path(loc)}: missing '{err['ctx']['discriminator'].strip(chr(39))}' "
                        "key, e.g. dataset: shapes")
        elif kind == "optimize_step":
            got = err.get("input")
            keys = list(got) if isinstance(got, dict) else got
            hint = did_you_mean(keys[0], OPTIMIZATIONS) if isinstance(keys, list) and len(keys) == 1 else ""
            msgs.append(f"{_loc_to_path(loc)}: {err['msg']} (got {short_repr(keys)}){hint}")
        elif kind in _SHAPE_ERRORS:
            msgs.append(_right_form(loc, kind, err.get("input")))
        elif kind == "missing":
            msgs.append(f"{_loc_to_path(loc)}: required key is missing")
        else:
            got = err.get("input")
            msg = err["msg"].removeprefix("Value error, ")
            shown = "" if isinstance(got, (dict, list)) or short_repr(got) in msg else f" (got {short_repr(got)})"
            where = _loc_to_path(loc)
            msgs.append(f"{where}: {msg}{shown}" if where else f"{msg}{shown}")
    # Values echoed inside messages (a model name, a tag) may hold newlines: keep one line each.
    msgs = list(dict.fromkeys(m.replace("\r", "\\r").replace("\n", "\\n")[:400] for m in msgs))
    if len(msgs) > 12:  # the first problems say enough; the rest follow once those are fixed
        msgs = msgs[:12] + [f"... and {len(msgs) - 12} more problem(s)"]
    return "; ".join(msgs)
