import pytest

from confini import ParseError, loads


def test_sections_and_keys():
    cfg = loads("[server]\nhost = localhost\nport = 8080\n")
    assert cfg.sections() == ["server"]
    assert cfg.keys("server") == ["host", "port"]


def test_colon_separator():
    assert loads("[a]\nname: demo\n").get("a", "name") == "demo"


def test_whitespace_around_separator():
    assert loads("[a]\nkey   =    spaced value   \n").get("a", "key") == "spaced value"


def test_empty_value():
    assert loads("[a]\nkey =\n").get("a", "key") == ""


def test_full_line_comments():
    cfg = loads("# top\n[a]\n; note\nkey = 1\n  # indented comment\n")
    assert cfg.as_dict() == {"a": {"key": "1"}}


def test_inline_comment():
    assert loads("[a]\nkey = value # trailing\n").get("a", "key") == "value"


def test_inline_semicolon_comment():
    assert loads("[a]\nkey = value ; trailing\n").get("a", "key") == "value"


def test_hash_without_space_is_kept():
    assert loads("[a]\ncolor = #ff0000\nurl = http://x/#top\n").get("a", "url") == "http://x/#top"


def test_quoted_value_keeps_comment_chars():
    assert loads('[a]\nkey = "a # b ; c"\n').get("a", "key") == "a # b ; c"


def test_quoted_value_escapes():
    assert loads('[a]\nkey = "tab\\there\\nnext"\n').get("a", "key") == "tab\there\nnext"


def test_quoted_value_keeps_outer_spaces():
    assert loads('[a]\nkey = "  padded  "\n').get("a", "key") == "  padded  "


def test_continuation_lines():
    cfg = loads("[a]\nkey = first\n    second\n\tthird\n")
    assert cfg.get("a", "key") == "first\nsecond\nthird"


def test_blank_line_ends_continuation():
    with pytest.raises(ParseError, match="does not continue"):
        loads("[a]\nkey = first\n\n    second\n")


def test_dotted_section_names():
    assert loads("[db.primary]\nhost = x\n").sections() == ["db.primary"]


def test_repeated_section_merges():
    cfg = loads("[a]\nx = 1\n[b]\ny = 2\n[a]\nz = 3\n")
    assert cfg.keys("a") == ["x", "z"]


def test_key_outside_section():
    with pytest.raises(ParseError, match="outside of any section"):
        loads("key = value\n")


def test_garbage_line():
    with pytest.raises(ParseError, match="expected 'key = value'"):
        loads("[a]\nthis is not a pair\n")


def test_duplicate_key():
    with pytest.raises(ParseError, match="duplicate key 'x'"):
        loads("[a]\nx = 1\nx = 2\n")


def test_unterminated_string():
    with pytest.raises(ParseError, match="unterminated string"):
        loads('[a]\nkey = "open\n')
