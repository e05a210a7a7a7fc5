import pytest

from quantities import UnitError, parse_unit
from quantities.parse import tokenize


def test_tokenize_compound():
    assert tokenize("kg*m/s^2") == ["kg", "*", "m", "/", "s", "^", "2"]


def test_tokenize_spaces():
    assert tokenize(" km / h ") == ["km", "/", "h"]


def test_single_name():
    assert parse_unit("meter").name == "meter"


def test_product():
    unit = parse_unit("N*m")
    assert unit.dims == (("length", 2), ("mass", 1), ("time", -2))


def test_quotient():
    unit = parse_unit("km/h")
    assert unit.dims == (("length", 1), ("time", -1))
    assert unit.factor == pytest.approx(1000 / 3600)


def test_square():
    unit = parse_unit("m^2")
    assert unit.dims == (("length", 2),)
    assert unit.factor == 1.0


def test_square_of_prefixed_unit():
    assert parse_unit("cm^2").factor == pytest.approx(1e-4)


def test_cube_liters():
    assert parse_unit("dm^3".replace("d", "c")).factor == pytest.approx(1e-6)


def test_exponent_binds_tighter_than_division():
    unit = parse_unit("m/s^2")
    assert unit.dims == (("length", 1), ("time", -2))


def test_parentheses():
    unit = parse_unit("(m/s)^2")
    assert unit.dims == (("length", 2), ("time", -2))


def test_newton_equivalent():
    assert parse_unit("kg*m/s^2").dims == parse_unit("N").dims


def test_compound_display_name():
    assert parse_unit("km / h").name == "km/h"


def test_empty_unit():
    with pytest.raises(UnitError, match="empty unit"):
        parse_unit("  ")


def test_dangling_operator():
    with pytest.raises(UnitError, match="ends too early"):
        parse_unit("m/")


def test_unbalanced_parenthesis():
    with pytest.raises(UnitError, match="missing"):
        parse_unit("(m/s")


def test_non_integer_exponent():
    with pytest.raises(UnitError, match="not an integer"):
        parse_unit("m^x")


def test_unexpected_character():
    with pytest.raises(UnitError, match="unexpected"):
        parse_unit("m)")
