"""Units and the registry that names them.

A unit is a dimension (exponents over the base dimensions) plus the affine map to the
base unit of that dimension: ``base = (value + offset) * factor``. Only temperatures use an
offset; products and powers of offset units are refused because they have no meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

Dims = tuple[tuple[str, int], ...]

# SI prefixes accepted in front of prefixable units ("km", "ms", "µA").
PREFIXES = {
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
}


class UnitError(ValueError):
    """A unit name or expression cannot be understood."""


class DimensionError(ValueError):
    """Two units of different dimensions were mixed."""


def combine(a: Dims, b: Dims, sign: int) -> Dims:
    """Multiply (sign=1) or divide (sign=-1) two dimensions; zero exponents vanish."""
    exps = dict(a)
    for dim, exp in b:
        exps[dim] = exps.get(dim, 0) + sign * exp
    return tuple(sorted((d, e) for d, e in exps.items() if e != 0))


@dataclass(frozen=True)
class Unit:
    name: str
    dims: Dims
    factor: float = 1.0
    offset: float = 0.0

    @property
    def is_affine(self) -> bool:
        return self.offset != 0.0

    def to_base(self, value: float) -> float:
        return (value + self.offset) * self.factor

    def from_base(self, value: float) -> float:
        return value / self.factor - self.offset

    def compatible(self, other: Unit) -> bool:
        return self.dims == other.dims

    def _check_linear(self, other: Unit | None = None) -> None:
        for unit in (self, other):
            if unit is not None and unit.is_affine:
                raise UnitError(f"cannot combine offset unit {unit.name!r} with others")

    def __mul__(self, other: Unit) -> Unit:
        self._check_linear(other)
        return Unit(
            f"{self.name}*{other.name}",
            combine(self.dims, other.dims, 1),
            self.factor * other.factor,
        )

    def __truediv__(self, other: Unit) -> Unit:
        self._check_linear(other)
        return Unit(
            f"{self.name}/{other.name}",
            combine(self.dims, other.dims, -1),
            self.factor / other.factor,
        )

    def __pow__(self, power: int) -> Unit:
        self._check_linear()
        dims = tuple((d, e * power) for d, e in self.dims if e * power != 0)
        return Unit(f"{self.name}^{power}", dims, self.factor**power)


DIMENSIONLESS = Unit("1", ())


class Registry:
    """Names, symbols and plurals of units; prefixes are resolved on lookup."""

    def __init__(self) -> None:
        self._units: dict[str, Unit] = {}
        self._aliases: dict[str, str] = {}
        self._prefixable: set[str] = set()

    def define(
        self,
        name: str,
        dims: Dims,
        factor: float = 1.0,
        offset: float = 0.0,
        *,
        aliases: tuple[str, ...] = (),
        prefixable: bool = False,
    ) -> Unit:
        """Add a unit under its full name and any aliases (symbols, irregular plurals)."""
        if name in self._units or name in self._aliases:
            raise UnitError(f"unit {name!r} is already defined")
        unit = Unit(name, dims, factor, offset)
        self._units[name] = unit
        for alias in aliases:
            self._aliases[alias] = name
        if prefixable:
            self._prefixable.add(name)
        return unit

    def names(self) -> list[str]:
        return sorted(self._units)

    def lookup(self, text: str) -> Unit:
        """Return the unit called ``text``: a name, an alias, a plural or a prefixed unit."""
        text = text.strip()
        if text == "1":
            return DIMENSIONLESS
        unit = self._exact(text)
        if unit is not None:
            return unit
        for prefix, scale in PREFIXES.items():
            if text.startswith(prefix) and len(text) > len(prefix):
                base = self._exact(text[len(prefix) :])
                if base is not None and base.name in self._prefixable:
                    return Unit(prefix + base.name, base.dims, base.factor * scale)
        raise UnitError(f"unknown unit {text!r}")

    def _exact(self, text: str) -> Unit | None:
        if text in self._units:
            return self._units[text]
        if text in self._aliases:
            return self._units[self._aliases[text]]
        # Regular plurals of full names only ("meters"); symbols never take an "s".
        if text.endswith("s") and text[:-1] in self._units:
            return self._units[text[:-1]]
        return None


def _default_registry() -> Registry:
    reg = Registry()
    length, mass, time = (("length", 1),), (("mass", 1),), (("time", 1),)
    temp, current = (("temperature", 1),), (("current", 1),)
    reg.define("meter", length, aliases=("m", "metre", "metres"), prefixable=True)
    reg.define("inch", length, 0.0254, aliases=("in", "inches"))
    reg.define("foot", length, 0.3048, aliases=("ft", "feet"))
    reg.define("mile", length, 1609.344, aliases=("mi",))
    reg.define("gram", mass, 1e-3, aliases=("g",), prefixable=True)
    reg.define("pound", mass, 0.45359237, aliases=("lb", "lbs"))
    reg.define("second", time, aliases=("s", "sec"), prefixable=True)
    reg.define("minute", time, 60.0, aliases=("min",))
    reg.define("hour", time, 3600.0, aliases=("h", "hr"))
    reg.define("kelvin", temp, aliases=("K",))
    reg.define("celsius", temp, 1.0, 273.15, aliases=("degC", "°C"))
    reg.define("fahrenheit", temp, 5 / 9, 459.67, aliases=("degF", "°F"))
    reg.define("ampere", current, aliases=("A", "amp", "amps"), prefixable=True)
    reg.define("newton", (("length", 1), ("mass", 1), ("time", -2)), aliases=("N",))
    reg.define("joule", (("length", 2), ("mass", 1), ("time", -2)), aliases=("J",))
    reg.define("hertz", (("time", -1),), aliases=("Hz",), prefixable=True)
    reg.define("liter", (("length", 3),), 1e-3, aliases=("L", "l", "litre"), prefixable=True)
    return reg


DEFAULT_REGISTRY = _default_registry()
