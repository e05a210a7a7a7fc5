"""Value syntax: quoting, escapes, inline comments, and typed conversions."""

from __future__ import annotations

import re

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_REVERSE = {v: "\\" + k for k, v in _ESCAPES.items()}
# An inline comment starts at "#" or ";" that follows whitespace, outside quotes.
_INLINE_COMMENT = re.compile(r"\s[#;]")

TRUE_WORDS = frozenset({"1", "yes", "true", "on"})
FALSE_WORDS = frozenset({"0", "no", "false", "off"})


def strip_inline_comment(text: str) -> str:
    """Cut ``text`` at an inline comment, ignoring comment characters inside quotes."""
    in_quote = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_quote and char == "\\":
            i += 2
            continue
        if char == '"':
            in_quote = not in_quote
        elif char in "#;" and not in_quote and (i == 0 or text[i - 1].isspace()):
            return text[:i]
        i += 1
    return text


def unquote(text: str) -> str:
    """Turn ``"a\\tb"`` into ``a<TAB>b``; unquoted text is returned as is."""
    if not text.startswith('"'):
        return text
    if len(text) < 2 or not text.endswith('"') or text.endswith('\\"') and _odd_tail(text):
        raise ValueError(f"unterminated string {text!r}")
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _odd_tail(text: str) -> bool:
    # '"a\\"' ends with an escaped backslash, not an escaped quote.
    run = len(text[:-1]) - len(text[:-1].rstrip("\\"))
    return run % 2 == 1


def needs_quotes(value: str) -> bool:
    """Whether ``value`` must be written quoted to read back unchanged."""
    return (
        value == ""
        or value != value.strip()
        or value.startswith(('"', "#", ";"))
        or any(c in value for c in '\\\n\t"')
        or _INLINE_COMMENT.search(value) is not None
    )


def quote(value: str) -> str:
    """Write ``value`` so that :func:`unquote` gives it back."""
    if not needs_quotes(value):
        return value
    return '"' + "".join(_REVERSE.get(c, c) for c in value) + '"'


def to_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def to_list(value: str) -> list[str]:
    """Comma- or newline-separated items, stripped, empty items dropped."""
    return [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]
