"""From text to sections of raw (uninterpolated) string values."""

from __future__ import annotations

import re

from confini.errors import ParseError
from confini.values import strip_inline_comment, unquote

_SECTION = re.compile(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]$")
_KEY = re.compile(r"^([A-Za-z0-9_.-]+)\s*[=:]\s*(.*)$")

Sections = dict[str, dict[str, str]]


def _value(text: str, lineno: int) -> str:
    text = strip_inline_comment(text).strip()
    try:
        return unquote(text)
    except ValueError as exc:
        raise ParseError(str(exc), lineno) from None


def parse(text: str) -> Sections:
    """Parse confini text into ``{section: {key: raw value}}`` in file order."""
    sections: Sections = {}
    current: dict[str, str] | None = None
    section = ""
    last_key: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            last_key = None
            continue
        if stripped.startswith(("#", ";")):
            continue
        if line[0].isspace():
            if current is None or last_key is None:
                raise ParseError("indented line does not continue a value", lineno)
            current[last_key] += "\n" + _value(stripped, lineno)
            continue
        header = _SECTION.match(stripped)
        if header:
            section = header.group(1)
            current = sections.setdefault(section, {})
            last_key = None
            continue
        pair = _KEY.match(stripped)
        if pair is None:
            raise ParseError(f"expected 'key = value' or '[section]', got {stripped!r}", lineno)
        if current is None:
            raise ParseError(f"key {pair.group(1)!r} is outside of any section", lineno)
        key = pair.group(1)
        if key in current:
            raise ParseError(f"duplicate key {key!r} in section [{section}]", lineno)
        current[key] = _value(pair.group(2), lineno)
        last_key = key
    return sections
