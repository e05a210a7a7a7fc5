from quantities import Quantity, format_quantity
from quantities.format import symbol


def test_symbol_known():
    assert symbol("meter") == "m"


def test_symbol_prefixed():
    assert symbol("kmeter") == "km"
    assert symbol("msecond") == "ms"


def test_symbol_unknown_kept():
    assert symbol("foot") == "foot"


def test_str_integer_value():
    assert str(Quantity(3, "km")) == "3 km"


def test_str_fraction():
    assert str(Quantity(1.5, "degC")) == "1.5 °C"


def test_precision():
    assert format_quantity(Quantity(2 / 3, "m/s"), precision=2) == "0.67 m/s"


def test_dimensionless():
    assert str(Quantity(7)) == "7"
