from tinytmpl import render


def test_if_true():
    assert render("{% if ok %}yes{% endif %}", ok=True) == "yes"


def test_if_false():
    assert render("{% if ok %}yes{% endif %}", ok=False) == ""


def test_if_else():
    assert render("{% if ok %}a{% else %}b{% endif %}", ok=0) == "b"


def test_elif_chain():
    source = "{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}"
    assert [render(source, n=n) for n in (1, 2, 3)] == ["one", "two", "many"]


def test_not():
    assert render("{% if not hidden %}shown{% endif %}", hidden=False) == "shown"


def test_and_or():
    source = "{% if a and b %}both{% elif a or b %}one{% else %}none{% endif %}"
    assert render(source, a=1, b=1) == "both"
    assert render(source, a=0, b=1) == "one"
    assert render(source, a=0, b=0) == "none"


def test_or_binds_looser_than_and():
    source = "{% if a or b and c %}y{% else %}n{% endif %}"
    assert render(source, a=False, b=True, c=False) == "n"
    assert render(source, a=True, b=False, c=False) == "y"


def test_comparisons():
    assert render("{% if n >= 3 %}big{% endif %}", n=3) == "big"
    assert render("{% if name != 'x' %}other{% endif %}", name="y") == "other"


def test_in_operator():
    assert render("{% if 'a' in tags %}tagged{% endif %}", tags=["a"]) == "tagged"


def test_for_loop():
    assert render("{% for x in xs %}[{{ x }}]{% endfor %}", xs=[1, 2]) == "[1][2]"


def test_for_else():
    assert render("{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", xs=[]) == "empty"


def test_loop_index():
    source = "{% for x in xs %}{{ loop.index }}/{{ loop.length }} {% endfor %}"
    assert render(source, xs="ab") == "1/2 2/2 "


def test_loop_first():
    source = "{% for x in xs %}{% if loop.first %}>{% endif %}{{ x }}{% endfor %}"
    assert render(source, xs=[1, 2]) == ">12"


def test_loop_variable_does_not_leak():
    assert render("{% for x in xs %}{% endfor %}[{{ x }}]", xs=[1]) == "[]"


def test_nested_loops():
    source = "{% for row in rows %}{% for c in row %}{{ c }}{% endfor %};{% endfor %}"
    assert render(source, rows=[[1, 2], [3]]) == "12;3;"


def test_whitespace_control():
    source = "<ul>\n  {%- for x in xs %}\n  <li>{{ x }}</li>\n  {%- endfor %}\n</ul>"
    assert render(source, xs=[1, 2]) == "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"
