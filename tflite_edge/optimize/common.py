"""What the wrapping techniques share: choosing layers by name pattern and type."""
from __future__ import annotations

import re

from ..errors import UserInputError


def selected(layer, patterns, types) -> bool:
    """Whether `layer` matches one of the `patterns` (regular expressions; none: every name) and
    one of the `types` (class names; none: every type)."""
    if patterns and not any(re.search(p, layer.name) for p in patterns):
        return False
    if types and type(layer).__name__ not in types:
        return False
    return True


def check_patterns(where: str, patterns, model, key: str = "layers") -> None:
    """Each pattern of `where.key` compiles, or a one-line error naming it."""
    for k, p in enumerate(patterns or []):
        try:
            re.compile(p)
        except re.error as e:
            raise UserInputError(f"{where}.{key}[{k}]: '{p}' is not a valid regular expression ({e})") from None
