import pytest

from confini import InterpolationError, loads


def test_same_section_reference():
    cfg = loads("[paths]\nroot = /srv\ndata = ${root}/data\n")
    assert cfg.get("paths", "data") == "/srv/data"


def test_other_section_reference():
    cfg = loads("[paths]\nroot = /srv\n[app]\nlogs = ${paths.root}/logs\n")
    assert cfg.get("app", "logs") == "/srv/logs"


def test_dotted_section_reference():
    cfg = loads("[db.primary]\nhost = h1\n[app]\ndsn = pg://${db.primary.host}\n")
    assert cfg.get("app", "dsn") == "pg://h1"


def test_nested_reference_resolves_in_its_own_section():
    text = "[paths]\nroot = /srv\ndata = ${root}/data\n[app]\nroot = /other\ncache = ${paths.data}/c\n"
    assert loads(text).get("app", "cache") == "/srv/data/c"


def test_dollar_escape():
    assert loads("[a]\nprice = $$5\n").get("a", "price") == "$5"


def test_typed_getter_interpolates():
    cfg = loads("[defaults]\nport = 80\n[web]\nport = ${defaults.port}\n")
    assert cfg.get_int("web", "port") == 80


def test_unknown_reference():
    with pytest.raises(InterpolationError, match="refers to \\$\\{nope\\}, which is not defined"):
        loads("[a]\nx = ${nope}\n").get("a", "x")


def test_empty_reference():
    with pytest.raises(InterpolationError, match="empty reference"):
        loads("[a]\nx = ${}\n").get("a", "x")
