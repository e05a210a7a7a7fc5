"""quantities: numbers with units, conversions between them, and unit expressions."""

from quantities.format import format_quantity
from quantities.parse import parse_unit
from quantities.quantity import Quantity
from quantities.units import DEFAULT_REGISTRY, DimensionError, Registry, Unit, UnitError

__all__ = [
    "DEFAULT_REGISTRY",
    "DimensionError",
    "Quantity",
    "Registry",
    "Unit",
    "UnitError",
    "format_quantity",
    "parse_unit",
]
