"""Filters (``{{ name|upper }}``) and the Markup type that marks text as already safe."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class Markup(str):
    """Text that is already HTML-safe: autoescaping leaves it alone."""


class Undefined:
    """A missing variable: renders as empty text, is falsy, and has no length."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __iter__(self) -> Any:
        return iter(())


def escape(value: Any) -> Markup:
    """HTML-escape ``value`` unless it is Markup already."""
    if isinstance(value, Markup):
        return value
    text = str(value)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;")):
        text = text.replace(char, entity)
    return Markup(text)


def _default(value: Any, fallback: Any = "") -> Any:
    # Only missing values take the default: 0, "" and [] are real values.
    if value is None or isinstance(value, Undefined):
        return fallback
    return value


def _join(value: Iterable[Any], sep: str = "") -> str:
    items = list(value)
    if any(isinstance(item, Markup) for item in items) or isinstance(sep, Markup):
        return Markup(escape(sep).join(escape(item) for item in items))
    return sep.join(str(item) for item in items)


def _first(value: Any) -> Any:
    return next(iter(value), Undefined("first"))


def _last(value: Any) -> Any:
    items = list(value)
    return items[-1] if items else Undefined("last")


FILTERS: dict[str, Callable[..., Any]] = {
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "title": lambda v: str(v).title(),
    "trim": lambda v: str(v).strip(),
    "length": lambda v: len(v) if not isinstance(v, Undefined) else 0,
    "default": _default,
    "join": _join,
    "first": _first,
    "last": _last,
    "escape": escape,
    "safe": lambda v: Markup(str(v)),
}
