import pytest

from confini.values import needs_quotes, quote, strip_inline_comment, to_bool, to_list, unquote


def test_strip_comment_plain():
    assert strip_inline_comment("value # c") == "value "


def test_strip_comment_in_quotes():
    assert strip_inline_comment('"a # b"') == '"a # b"'


def test_strip_comment_at_start():
    assert strip_inline_comment("# all comment") == ""


def test_unquote_plain_text():
    assert unquote("plain") == "plain"


def test_unquote_escapes():
    assert unquote('"a\\"b\\\\c"') == 'a"b\\c'


def test_unquote_unknown_escape_kept():
    assert unquote('"a\\qb"') == "a\\qb"


def test_unquote_escaped_final_quote():
    with pytest.raises(ValueError, match="unterminated"):
        unquote('"abc\\"')


def test_unquote_escaped_backslash_before_quote():
    assert unquote('"abc\\\\"') == "abc\\"


def test_quote_plain_left_alone():
    assert quote("simple") == "simple"
    assert not needs_quotes("a#b")


def test_quote_round_trip_specials():
    for value in ["", " lead", "trail ", "line\nbreak", 'say "hi"', "back\\slash", "\ttab"]:
        assert needs_quotes(value)
        assert unquote(quote(value)) == value


def test_to_bool_words():
    assert to_bool("yes") is True
    assert to_bool("off") is False
    assert to_bool(" TRUE ") is True


def test_to_bool_rejects():
    with pytest.raises(ValueError, match="expected a boolean"):
        to_bool("maybe")


def test_to_list():
    assert to_list("a, b,,c\nd") == ["a", "b", "c", "d"]
    assert to_list("") == []
