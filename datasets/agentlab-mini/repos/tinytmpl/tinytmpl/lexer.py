"""Splitting template source into text, ``{{ variable }}`` and ``{% block %}`` tokens.

``{#...#}`` comments are dropped. A ``-`` inside a delimiter (``{%-``, ``-%}``, ``{{-``,
``-}}``) strips the whitespace on that side, newlines included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinytmpl.errors import TemplateSyntaxError

_TAG = re.compile(r"\{\{(-?)(.*?)(-?)\}\}|\{%(-?)(.*?)(-?)%\}|\{#.*?#\}", re.S)


@dataclass
class Token:
    kind: str  # "text", "var" or "block"
    value: str
    line: int


def tokenize(source: str) -> list[Token]:
    """Tokens in source order, with whitespace control already applied."""
    tokens: list[Token] = []
    line, pos = 1, 0
    strip_next = False
    for match in _TAG.finditer(source):
        text = source[pos : match.start()]
        if strip_next:
            text = text.lstrip()
        if match.group(1) == "-" or match.group(4) == "-":
            text = text.rstrip()
        if text:
            tokens.append(Token("text", text, line))
        line += source.count("\n", pos, match.start())
        if match.group(0).startswith("{{"):
            tokens.append(Token("var", match.group(2).strip(), line))
            strip_next = match.group(3) == "-"
        elif match.group(0).startswith("{%"):
            tokens.append(Token("block", match.group(5).strip(), line))
            strip_next = match.group(6) == "-"
        else:
            strip_next = False
        line += match.group(0).count("\n")
        pos = match.end()
    rest = source[pos:]
    if "{{" in rest or "{%" in rest:
        raise TemplateSyntaxError("unclosed tag", line + rest.count("\n", 0, rest.find("{")))
    rest = rest.lstrip() if strip_next else rest
    if rest:
        tokens.append(Token("text", rest, line))
    return tokens
