import pytest

from tinytmpl import Template, TemplateSyntaxError


def test_unknown_filter():
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'shout'"):
        Template("{{ x|shout }}")


def test_unknown_filter_line():
    with pytest.raises(TemplateSyntaxError) as info:
        Template("a\nb {{ x|shout }}")
    assert info.value.line == 2


def test_unclosed_if():
    with pytest.raises(TemplateSyntaxError, match="unclosed {% if %} block"):
        Template("{% if x %}never closed")


def test_stray_end_tag():
    with pytest.raises(TemplateSyntaxError, match="unknown or misplaced tag .endfor."):
        Template("text {% endfor %}")


def test_unknown_tag():
    with pytest.raises(TemplateSyntaxError, match="unknown or misplaced tag 'include'"):
        Template("{% include 'x' %}")


def test_bad_for_header():
    with pytest.raises(TemplateSyntaxError, match="bad for loop"):
        Template("{% for in xs %}{% endfor %}")


def test_empty_expression():
    with pytest.raises(TemplateSyntaxError, match="empty expression"):
        Template("{{ }}")


def test_unclosed_tag():
    with pytest.raises(TemplateSyntaxError, match="unclosed tag"):
        Template("hello {{ name")


def test_trailing_garbage_in_expression():
    with pytest.raises(TemplateSyntaxError, match="unexpected"):
        Template("{{ a b }}")
