"""Unit expressions: ``kg*m/s^2``, ``km/h``, ``(m/s)^2``, ``s^-1``.

Grammar (``*`` and ``/`` are left-associative, ``^`` binds tightest)::

    expr := term (("*" | "/") term)*
    term := atom ("^" INT)?
    atom := NAME | "(" expr ")"
"""

from __future__ import annotations

import re

from quantities.units import DEFAULT_REGISTRY, Registry, Unit, UnitError

_TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+)|(?P<name>[^\s*/^()\d][^\s*/^()]*|1)|(?P<op>[*/^()]))")


def tokenize(text: str) -> list[str]:
    """Split a unit expression into names, integers and operators."""
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise UnitError(f"unexpected character {text[pos]!r} in unit {text!r}")
        tokens.append(match.group(match.lastgroup or "op"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, registry: Registry) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.registry = registry

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise UnitError(f"unit {self.text!r} ends too early")
        self.pos += 1
        return token

    def parse(self) -> Unit:
        unit = self._expr()
        if self._peek() is not None:
            raise UnitError(f"unexpected {self._peek()!r} in unit {self.text!r}")
        return unit

    def _expr(self) -> Unit:
        unit = self._term()
        while self._peek() in ("*", "/"):
            op = self._next()
            rhs = self._term()
            unit = unit * rhs if op == "*" else unit / rhs
        return unit

    def _term(self) -> Unit:
        unit = self._atom()
        if self._peek() == "^":
            self._next()
            exponent = self._next()
            try:
                power = int(exponent)
            except ValueError:
                raise UnitError(f"exponent {exponent!r} is not an integer") from None
            unit = unit**power
        return unit

    def _atom(self) -> Unit:
        token = self._next()
        if token == "(":
            unit = self._expr()
            if self._peek() != ")":
                raise UnitError(f"missing ')' in unit {self.text!r}")
            self._next()
            return unit
        if token in "*/^)":
            raise UnitError(f"unexpected {token!r} in unit {self.text!r}")
        return self.registry.lookup(token)


def parse_unit(text: str, registry: Registry = DEFAULT_REGISTRY) -> Unit:
    """Parse a unit expression into one :class:`Unit`; a single name is the common case."""
    if not text.strip():
        raise UnitError("empty unit")
    unit = _Parser(text, registry).parse()
    # Keep the text the user wrote as the display name of compound units.
    if unit.name != text.strip() and any(c in text for c in "*/^("):
        unit = Unit(text.replace(" ", ""), unit.dims, unit.factor, unit.offset)
    return unit
