"""Tiny strict registries: explicit registration, duplicate names raise, unknown names suggest.

>>> R = Registry("model")
>>> @R.register("tiny")
... def tiny(): return 1
>>> R.get("tiny")()
1
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, Iterator, List

from .errors import UserInputError


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Any] = {}
        self._meta: Dict[str, dict] = {}

    def register(self, name: str, **meta) -> Callable:
        """Decorator: `@REG.register("name", summary="...")`."""

        def deco(obj):
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            self._meta[name] = meta
            return obj

        return deco

    def get(self, name: str):
        if name not in self._entries:
            raise UserInputError(self.unknown_message(name))
        return self._entries[name]

    def unknown_message(self, name: str) -> str:
        return (f"unknown {self.kind} '{name}'{did_you_mean(name, self._entries)}; "
                f"choose one of: {', '.join(self.names())}")

    def meta(self, name: str) -> dict:
        return self._meta[name]

    def names(self) -> List[str]:
        return sorted(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
