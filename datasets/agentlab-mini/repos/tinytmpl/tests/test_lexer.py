from tinytmpl.lexer import tokenize


def kinds(source):
    return [(t.kind, t.value) for t in tokenize(source)]


def test_plain_text():
    assert kinds("hello") == [("text", "hello")]


def test_variable():
    assert kinds("a {{ name }} b") == [("text", "a "), ("var", "name"), ("text", " b")]


def test_block():
    assert kinds("{% if x %}y{% endif %}") == [
        ("block", "if x"),
        ("text", "y"),
        ("block", "endif"),
    ]


def test_comment_dropped():
    assert kinds("a{# hidden #}b") == [("text", "a"), ("text", "b")]


def test_strip_before():
    assert kinds("a  \n {%- if x %}") == [("text", "a"), ("block", "if x")]


def test_strip_after():
    assert kinds("{{ x -}}  \n b") == [("var", "x"), ("text", "b")]


def test_line_numbers_of_text_lines():
    tokens = tokenize("one\ntwo {{ a }}\nthree {{ b }}")
    assert [t.line for t in tokens if t.kind == "var"] == [2, 3]


def test_tag_with_braces_in_string():
    assert kinds('{{ x|default:"}" }}') == [("var", 'x|default:"}"')]
