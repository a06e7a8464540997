"""What the Python API returns: plain JSON-ready dicts that read as attributes and show as text."""
from __future__ import annotations

from typing import Mapping


class Result(dict):
    """A JSON-ready dict whose keys also read as attributes (nested dicts too), shown as text."""

    def __init__(self, data: Mapping, text: str = ""):
        super().__init__({k: _wrap(v) for k, v in data.items()})
        self._text = text

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no {name!r}; keys: {', '.join(self)}") from None

    def __repr__(self) -> str:
        return self._text or dict.__repr__(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython / Jupyter
        printer.text(repr(self))


def _wrap(value):
    if isinstance(value, dict) and not isinstance(value, Result):
        return Result(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value
