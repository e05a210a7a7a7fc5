import pytest

from confini import Config, ConfigError, MissingKeyError, load, loads

SAMPLE = """\
[server]
host = example.org
port = 8080
debug = off
ratio = 0.75
tags = web, api
"""


def test_get():
    assert loads(SAMPLE).get("server", "host") == "example.org"


def test_get_default():
    assert loads(SAMPLE).get("server", "missing", default="x") == "x"


def test_missing_key():
    with pytest.raises(MissingKeyError, match="no key 'missing' in section \\[server\\]"):
        loads(SAMPLE).get("server", "missing")


def test_missing_section():
    with pytest.raises(MissingKeyError, match="no section \\[nope\\]"):
        loads(SAMPLE).get("nope", "x")


def test_get_int():
    assert loads(SAMPLE).get_int("server", "port") == 8080


def test_get_int_bad():
    with pytest.raises(ConfigError, match="port: expected an integer, got 'x'"):
        loads("[server]\nport = x\n").get_int("server", "port")


def test_get_float():
    assert loads(SAMPLE).get_float("server", "ratio") == 0.75


def test_get_bool():
    assert loads(SAMPLE).get_bool("server", "debug") is False


def test_get_list():
    assert loads(SAMPLE).get_list("server", "tags") == ["web", "api"]


def test_typed_default():
    assert loads(SAMPLE).get_int("server", "workers", default=4) == 4


def test_set_and_dump_bool():
    cfg = Config()
    cfg.set("flags", "fast", True)
    assert cfg.get("flags", "fast") == "yes"
    assert cfg.get_bool("flags", "fast") is True


def test_remove():
    cfg = loads(SAMPLE)
    cfg.remove("server", "port")
    assert "port" not in cfg.keys("server")


def test_dump_simple():
    assert loads(SAMPLE).dump() == SAMPLE.replace("\n[", "\n\n[")


def test_dump_round_trip_multiline():
    cfg = loads('[a]\nkey = one\n  two\nq = "  x  "\n')
    assert loads(cfg.dump()) == cfg


def test_load_file(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text(SAMPLE, encoding="utf-8")
    assert load(path).get_int("server", "port") == 8080


def test_equality():
    assert loads(SAMPLE) == loads(SAMPLE)
    assert loads(SAMPLE) != loads("[other]\n")
