"""Small helpers for reading provider JSON defensively."""

from __future__ import annotations

from typing import Any

from agentlab.errors import MalformedResponseError


def need(obj: Any, key: str, where: str) -> Any:
    """``obj[key]``, or MalformedResponseError naming the missing field."""
    if not isinstance(obj, dict) or key not in obj:
        raise MalformedResponseError(f"{where}: reply lacks field {key!r}")
    return obj[key]


def as_int(value: Any, field: str, where: str) -> int:
    """A non-negative token count, or MalformedResponseError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedResponseError(f"{where}: {field} is {value!r}, not a token count")
    return value
