"""What every recipe section shares: the strict frozen base model and small validation helpers."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def registered(registry, name: str) -> str:
    """`name` if the registry has it; otherwise the registry's did-you-mean message."""
    if name not in registry:
        raise ValueError(registry.unknown_message(name))
    return name


def short_repr(value) -> str:
    """repr bounded in size: a YAML alias bomb or a 10 MB string must not become the error line."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlist, r.maxdict = 2, 60, 60, 6, 6
    return r.repr(value)
