"""A value with a unit: conversion, arithmetic and comparison."""

from __future__ import annotations

import math
import re
from functools import total_ordering

from quantities.parse import parse_unit
from quantities.units import DIMENSIONLESS, DimensionError, Unit, UnitError

_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$")


def _as_unit(unit: Unit | str) -> Unit:
    return unit if isinstance(unit, Unit) else parse_unit(unit)


@total_ordering
class Quantity:
    __slots__ = ("unit", "value")

    def __init__(self, value: float, unit: Unit | str = DIMENSIONLESS) -> None:
        self.value = float(value)
        self.unit = _as_unit(unit)

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Read ``"3.5 km/h"``, ``"-40 degF"`` or a bare number."""
        match = _NUMBER.match(text)
        if match is None:
            raise UnitError(f"no number at the start of {text!r}")
        number, unit = match.groups()
        return cls(float(number), unit if unit.strip() else DIMENSIONLESS)

    def to(self, unit: Unit | str) -> Quantity:
        """The same amount expressed in ``unit``; raises DimensionError if they differ."""
        target = _as_unit(unit)
        if not self.unit.compatible(target):
            raise DimensionError(f"cannot convert {self.unit.name} to {target.name}")
        return Quantity(target.from_base(self.unit.to_base(self.value)), target)

    def _other_in_my_unit(self, other: object) -> float:
        if not isinstance(other, Quantity):
            raise TypeError(f"expected a Quantity, got {type(other).__name__}")
        return other.to(self.unit).value

    def __add__(self, other: object) -> Quantity:
        return Quantity(self.value + self._other_in_my_unit(other), self.unit)

    def __sub__(self, other: object) -> Quantity:
        return Quantity(self.value - self._other_in_my_unit(other), self.unit)

    def __mul__(self, other: object) -> Quantity:
        if isinstance(other, Quantity):
            return Quantity(self.value * other.value, self.unit * other.unit)
        if isinstance(other, int | float):
            return Quantity(self.value * other, self.unit)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Quantity:
        if isinstance(other, Quantity):
            return Quantity(self.value / other.value, self.unit / other.unit)
        if isinstance(other, int | float):
            return Quantity(self.value / other, self.unit)
        return NotImplemented

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.unit)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity) or not self.unit.compatible(other.unit):
            return False
        return math.isclose(self.value, self._other_in_my_unit(other), rel_tol=1e-9)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.value < self._other_in_my_unit(other)

    def __hash__(self) -> int:
        return hash((round(self.unit.to_base(self.value), 9), self.unit.dims))

    def __repr__(self) -> str:
        return f"Quantity({self.value!r}, {self.unit.name!r})"

    def __str__(self) -> str:
        from quantities.format import format_quantity

        return format_quantity(self)
