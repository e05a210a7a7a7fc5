import pytest

from quantities import DimensionError, Quantity, UnitError


def test_convert_feet_to_meters():
    assert Quantity(10, "ft").to("m").value == pytest.approx(3.048)


def test_convert_miles_to_km():
    assert Quantity(1, "mi").to("km").value == pytest.approx(1.609344)


def test_convert_speed():
    assert Quantity(36, "km/h").to("m/s").value == pytest.approx(10.0)


def test_convert_celsius_to_kelvin():
    assert Quantity(25, "degC").to("K").value == pytest.approx(298.15)


def test_convert_fahrenheit_to_celsius():
    assert Quantity(212, "degF").to("degC").value == pytest.approx(100.0)


def test_convert_wrong_dimension():
    with pytest.raises(DimensionError, match="cannot convert meter to second"):
        Quantity(1, "m").to("s")


def test_parse_quantity():
    q = Quantity.parse("3.5 km")
    assert q.value == 3.5
    assert q.unit.name == "kmeter"


def test_parse_scientific():
    assert Quantity.parse("1e3 g").to("kg").value == pytest.approx(1.0)


def test_parse_negative():
    assert Quantity.parse("-40 degC").to("K").value == pytest.approx(233.15)


def test_parse_bare_number():
    assert Quantity.parse("42").unit.name == "1"


def test_parse_rejects_missing_number():
    with pytest.raises(UnitError, match="no number"):
        Quantity.parse("km")


def test_add_converts_to_left_unit():
    total = Quantity(1, "km") + Quantity(500, "m")
    assert total.unit.name == "kmeter"
    assert total.value == pytest.approx(1.5)


def test_subtract():
    assert (Quantity(2, "h") - Quantity(30, "min")).value == pytest.approx(1.5)


def test_add_incompatible():
    with pytest.raises(DimensionError):
        Quantity(1, "m") + Quantity(1, "s")


def test_multiply_by_number():
    assert (3 * Quantity(2, "m")).value == 6.0


def test_divide_quantities():
    speed = Quantity(100, "m") / Quantity(20, "s")
    assert speed.to("km/h").value == pytest.approx(18.0)


def test_equality_across_units():
    assert Quantity(1, "km") == Quantity(1000, "m")
    assert Quantity(1, "m") != Quantity(1, "s")


def test_hash_matches_equality():
    assert hash(Quantity(1, "km")) == hash(Quantity(1000, "m"))


def test_repr():
    assert repr(Quantity(2, "ft")) == "Quantity(2.0, 'foot')"


def test_same_unit_ordering():
    assert Quantity(1, "m") < Quantity(2, "m")
    assert Quantity(3, "s") >= Quantity(3, "s")
