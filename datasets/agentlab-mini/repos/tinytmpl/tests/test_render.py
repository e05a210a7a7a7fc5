import pytest

from tinytmpl import Markup, Template, UndefinedError, render


class User:
    def __init__(self, name):
        self.name = name


def test_text_only():
    assert render("plain text") == "plain text"


def test_variable():
    assert render("Hello {{ name }}!", name="Ada") == "Hello Ada!"


def test_dict_lookup():
    assert render("{{ user.name }}", user={"name": "Ada"}) == "Ada"


def test_attribute_lookup():
    assert render("{{ user.name }}", user=User("Grace")) == "Grace"


def test_list_index():
    assert render("{{ items.1 }}", items=["a", "b"]) == "b"


def test_missing_renders_empty():
    assert render("[{{ nope }}][{{ user.missing }}]", user={}) == "[][]"


def test_strict_missing_raises():
    with pytest.raises(UndefinedError, match="'user.email' is undefined"):
        Template("{{ user.email }}", strict=True).render(user={})


def test_autoescape():
    assert render("{{ html }}", html="<a href='x'>&</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"


def test_autoescape_off():
    assert Template("{{ html }}", autoescape=False).render(html="<b>") == "<b>"


def test_safe_filter():
    assert render("{{ html|safe }}", html="<b>") == "<b>"


def test_markup_not_escaped_twice():
    assert render("{{ html }}", html=Markup("&amp;")) == "&amp;"


def test_upper_lower_title():
    assert render("{{ a|upper }} {{ a|lower }} {{ a|title }}", a="hello World") == (
        "HELLO WORLD hello world Hello World"
    )


def test_filter_chain():
    assert render("{{ name|trim|upper }}", name="  ada ") == "ADA"


def test_length():
    assert render("{{ items|length }}", items=[1, 2, 3]) == "3"


def test_length_of_missing():
    assert render("{{ nope|length }}") == "0"


def test_join():
    assert render('{{ tags|join:", " }}', tags=["a", "b"]) == "a, b"


def test_join_escapes():
    assert render('{{ tags|join:"/" }}', tags=["<a>", "b"]) == "&lt;a&gt;/b"


def test_first_last():
    assert render("{{ xs|first }}-{{ xs|last }}", xs=[1, 2, 3]) == "1-3"


def test_default_for_missing():
    assert render('{{ nope|default:"n/a" }}') == "n/a"


def test_default_for_none():
    assert render('{{ v|default:"n/a" }}', v=None) == "n/a"


def test_default_with_variable_argument():
    assert render("{{ nope|default:other }}", other="x") == "x"


def test_render_twice():
    template = Template("{{ x }}")
    assert [template.render(x=1), template.render(x=2)] == ["1", "2"]
