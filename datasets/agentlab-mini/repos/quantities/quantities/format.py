"""Turning quantities into text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantities.quantity import Quantity

_SYMBOLS = {
    "meter": "m",
    "gram": "g",
    "second": "s",
    "kelvin": "K",
    "celsius": "°C",
    "fahrenheit": "°F",
    "ampere": "A",
    "newton": "N",
    "joule": "J",
    "hertz": "Hz",
    "liter": "L",
}


def symbol(name: str) -> str:
    """The short symbol of a unit name, keeping any SI prefix (``kmeter`` -> ``km``)."""
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    for full, short in _SYMBOLS.items():
        if name.endswith(full) and len(name) - len(full) == 1:
            return name[0] + short
    return name


def format_quantity(q: Quantity, precision: int | None = None) -> str:
    """``"1.5 km"``; ``precision`` fixes the digits after the point, else the shortest repr."""
    if precision is None:
        number = repr(q.value).removesuffix(".0")
    else:
        number = f"{q.value:.{precision}f}"
    if q.unit.name == "1":
        return number
    return f"{number} {symbol(q.unit.name)}"
