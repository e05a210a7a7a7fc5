import pytest

from quantities import DEFAULT_REGISTRY, Registry, UnitError
from quantities.units import DIMENSIONLESS, combine


def test_lookup_full_name():
    assert DEFAULT_REGISTRY.lookup("meter").factor == 1.0


def test_lookup_symbol():
    assert DEFAULT_REGISTRY.lookup("ft").name == "foot"


def test_lookup_regular_plural():
    assert DEFAULT_REGISTRY.lookup("meters").name == "meter"
    assert DEFAULT_REGISTRY.lookup("seconds").name == "second"


def test_lookup_irregular_plural():
    assert DEFAULT_REGISTRY.lookup("feet").name == "foot"
    assert DEFAULT_REGISTRY.lookup("inches").name == "inch"


def test_lookup_prefixed_name():
    unit = DEFAULT_REGISTRY.lookup("km")
    assert unit.factor == 1000.0
    assert unit.dims == (("length", 1),)


def test_lookup_prefix_on_full_name():
    assert DEFAULT_REGISTRY.lookup("kilometer".replace("ilo", "")).factor == 1000.0


def test_lookup_micro_prefix():
    assert DEFAULT_REGISTRY.lookup("µA").factor == pytest.approx(1e-6)
    assert DEFAULT_REGISTRY.lookup("uA").factor == pytest.approx(1e-6)


def test_prefix_refused_on_non_prefixable_unit():
    with pytest.raises(UnitError, match="unknown unit 'kft'"):
        DEFAULT_REGISTRY.lookup("kft")


def test_unknown_unit():
    with pytest.raises(UnitError, match="unknown unit 'furlong'"):
        DEFAULT_REGISTRY.lookup("furlong")


def test_dimensionless_one():
    assert DEFAULT_REGISTRY.lookup("1") is DIMENSIONLESS


def test_define_twice_refused():
    reg = Registry()
    reg.define("widget", (("count", 1),))
    with pytest.raises(UnitError, match="already defined"):
        reg.define("widget", (("count", 1),))


def test_custom_registry_alias():
    reg = Registry()
    reg.define("byte", (("information", 1),), aliases=("B",), prefixable=True)
    assert reg.lookup("kB").factor == 1000.0
    assert reg.lookup("bytes").name == "byte"


def test_names_sorted():
    names = DEFAULT_REGISTRY.names()
    assert names == sorted(names)
    assert "meter" in names


def test_combine_drops_zero_exponents():
    assert combine((("length", 1),), (("length", 1),), -1) == ()


def test_multiply_units():
    reg = DEFAULT_REGISTRY
    area = reg.lookup("m") * reg.lookup("km")
    assert area.dims == (("length", 2),)
    assert area.factor == 1000.0


def test_offset_units_cannot_multiply():
    reg = DEFAULT_REGISTRY
    with pytest.raises(UnitError, match="offset unit 'celsius'"):
        reg.lookup("degC") * reg.lookup("m")


def test_celsius_to_base():
    assert DEFAULT_REGISTRY.lookup("degC").to_base(0.0) == pytest.approx(273.15)


def test_fahrenheit_to_base():
    assert DEFAULT_REGISTRY.lookup("degF").to_base(32.0) == pytest.approx(273.15)
