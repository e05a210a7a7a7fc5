"""Edit blocks: parsing, tolerant matching, and diffs that real `git apply` accepts."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from agentlab.agent.edits import (
    EditBlock,
    apply_block,
    apply_edits,
    diff_from_reply,
    parse_edit_blocks,
    unified_diff,
)
from agentlab.errors import ReplyFormatError

SOURCE = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_parse_blocks_in_fences_with_paths() -> None:
    reply = (
        "I will fix it.\n\n```python\n"
        + block("pkg/mod.py", "x = 1\n", "x = 2\n")
        + "```\n\nAnd a new file:\n```\n"
        + block("`pkg/new.py`", "", "y = 3\n")
        + "```\n"
    )
    blocks = parse_edit_blocks(reply)
    assert blocks == [
        EditBlock("pkg/mod.py", "x = 1\n", "x = 2\n"),
        EditBlock("pkg/new.py", "", "y = 3\n"),
    ]


def test_parse_errors_read_as_instructions() -> None:
    with pytest.raises(ReplyFormatError, match="no file path"):
        parse_edit_blocks("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    with pytest.raises(ReplyFormatError, match="missing its `=======` line"):
        parse_edit_blocks("f.py\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n")
    with pytest.raises(ReplyFormatError, match="missing its `>>>>>>> REPLACE` line"):
        parse_edit_blocks("f.py\n<<<<<<< SEARCH\na\n=======\nb\n")
    with pytest.raises(ReplyFormatError, match="without a `<<<<<<< SEARCH`"):
        parse_edit_blocks("f.py\na\n=======\nb\n>>>>>>> REPLACE\n")
    with pytest.raises(ReplyFormatError, match="not inside the repository"):
        parse_edit_blocks("../etc/passwd\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    with pytest.raises(ReplyFormatError, match="not inside the repository"):
        parse_edit_blocks("/etc/passwd\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    with pytest.raises(ReplyFormatError, match="no edit blocks found"):
        diff_from_reply({"f.py": "a\n"}, "Looks fine to me.")


def test_exact_match() -> None:
    out = apply_block(SOURCE, EditBlock("m.py", "    return a - b\n", "    return b - a\n"))
    assert out == SOURCE.replace("a - b", "b - a")


def test_exact_match_is_whole_lines_only() -> None:
    content = "xa = 1\na = 1\n"
    assert apply_block(content, EditBlock("m.py", "a = 1\n", "a = 2\n")) == "xa = 1\na = 2\n"


def test_trailing_whitespace_is_ignored() -> None:
    search = "def sub(a, b):   \n    return a - b  \n"
    out = apply_block(SOURCE, EditBlock("m.py", search, "def sub(a, b):\n    return 0\n"))
    assert out.endswith("def sub(a, b):\n    return 0\n")


def test_indentation_shift_reindents_replacement() -> None:
    content = "class C:\n    def f(self):\n        return 1\n"
    search = "def f(self):\n    return 1\n"
    replace = "def f(self):\n    x = 2\n\n    return x\n"
    out = apply_block(content, EditBlock("m.py", search, replace))
    assert out == "class C:\n    def f(self):\n        x = 2\n\n        return x\n"


def test_fuzzy_match_unique_window() -> None:
    names = ["total", "count", "mean", "spread", "label", "weight"]
    content = "".join(f"{n} = compute_{n}(rows, key='{n}')\n" for n in names)
    search = (
        "mean = compute_mean(rows, key='maen')\n"
        "spread = compute_spread(rows, key='spread')\n"
        "label = compute_label(rows, key='label')\n"
    )
    out = apply_block(content, EditBlock("m.py", search, "mean = 0\nspread = 1\nlabel = 2\n"))
    assert "key='count')\nmean = 0\nspread = 1\nlabel = 2\nweight = " in out


def test_short_search_is_never_fuzzy() -> None:
    with pytest.raises(ReplyFormatError, match="does not match"):
        apply_block(SOURCE, EditBlock("m.py", "    return a * b\n", "    return 0\n"))


def test_ambiguous_match_asks_for_more_context() -> None:
    content = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(ReplyFormatError, match=r"matches 2 places \(lines 1, 3\)"):
        apply_block(content, EditBlock("m.py", "x = 1\n", "x = 3\n"))


def test_no_match_names_file_and_first_line() -> None:
    with pytest.raises(ReplyFormatError, match=r"m.py does not match.*'def mul\(a, b\):'"):
        apply_block(SOURCE, EditBlock("m.py", "def mul(a, b):\n    pass\n", "x\n"))


def test_missing_file_and_empty_search_on_existing_file() -> None:
    with pytest.raises(ReplyFormatError, match="does not exist"):
        apply_edits({}, [EditBlock("nope.py", "a\n", "b\n")])
    with pytest.raises(ReplyFormatError, match="empty SEARCH"):
        apply_edits({"m.py": SOURCE}, [EditBlock("m.py", "", "b\n")])


def test_blocks_apply_in_sequence_and_unchanged_files_are_dropped() -> None:
    blocks = [
        EditBlock("m.py", "    return a + b\n", "    return a + b + 0\n"),
        EditBlock("m.py", "    return a + b + 0\n", "    return b + a\n"),
        EditBlock("n.py", "k = 1\n", "k = 1\n"),
    ]
    out = apply_edits({"m.py": SOURCE, "n.py": "k = 1\n"}, blocks)
    assert out == {"m.py": SOURCE.replace("a + b", "b + a")}


def test_no_trailing_newline_is_preserved() -> None:
    content = "a = 1\nb = 2"
    out = apply_block(content, EditBlock("m.py", "b = 2\n", "b = 3\nc = 4\n"))
    assert out == "a = 1\nb = 3\nc = 4"


# ------------------------------------------------------------------ property: git apply

WORDS = ["alpha", "beta", "gamma", "delta", "x", "y", "value", "total", "(1)", "[i]", "+", "="]


def _random_file(rng: random.Random, n_lines: int) -> str:
    lines = []
    for i in range(n_lines):
        indent = "    " * rng.randint(0, 3)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 5)))
        # A unique token per line keeps most windows unique, as in real code.
        lines.append(f"{indent}{words} #{i}" if words or rng.random() < 0.5 else "")
    text = "\n".join(lines)
    return text if rng.random() < 0.2 else text + "\n"


def _indent_of(lines: list[str]) -> str:
    first = next((s for s in lines if s.strip()), "")
    return first[: len(first) - len(first.lstrip())]


def _perturb(rng: random.Random, search: list[str]) -> list[str]:
    mode = rng.choice(["exact", "trailing", "indent"])
    if mode == "trailing":
        return [s + " " * rng.randint(0, 3) for s in search]
    if mode == "indent":
        shift = rng.choice(["", "  ", "    "])
        return [shift + s.lstrip() if s.strip() else s for s in search]
    return search


class _Model:
    """The expected file, kept independently of the code under test: lines + final newline."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.ends_nl = text.endswith("\n") or not text

    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.ends_nl and self.lines else "")

    def random_edit(self, rng: random.Random, path: str, tag: str) -> EditBlock | None:
        n = len(self.lines)
        if n == 0:
            return None
        size = rng.randint(1, min(4, n))
        start = rng.randint(0, n - size)
        window = self.lines[start : start + size]
        if not any(s.strip() for s in window):
            return None
        search = _perturb(rng, window)
        count = rng.randint(0, 3)
        body = [f"new_{tag}_{j} = {rng.choice(WORDS)}" for j in range(count)]
        if start + size == n and not body:
            self.ends_nl = True  # deleting the unterminated last line leaves the one before
        self.lines[start : start + size] = [_indent_of(window) + b for b in body]
        replace = "".join(_indent_of(search) + b + "\n" for b in body)
        return EditBlock(path, "\n".join(search) + "\n", replace)


def _git(repo: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, input=stdin, text=True, check=True, capture_output=True
    )


@pytest.mark.parametrize("seed", range(16))
def test_diff_applies_with_git_apply(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files: dict[str, str | None] = {
        f"pkg/mod_{i}.py": _random_file(rng, rng.randint(3, 40)) for i in range(3)
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content or "")
    models = {p: _Model(c or "") for p, c in files.items()}
    blocks = [
        b
        for p, m in models.items()
        for k in range(3)
        if (b := m.random_edit(rng, p, f"{seed}_{k}"))
    ]
    blocks.append(EditBlock(f"pkg/new_{seed}.py", "", "created = True\n"))
    expected = {p: m.text() for p, m in models.items()}
    expected[f"pkg/new_{seed}.py"] = "created = True\n"

    reply = "".join("```\n" + block(b.path, b.search, b.replace) + "```\n" for b in blocks)
    assert parse_edit_blocks(reply) == blocks
    changed = apply_edits(files, blocks)
    assert changed == {p: c for p, c in expected.items() if files.get(p) != c}
    diff = diff_from_reply(files, reply)

    _git(repo, "apply", "--check", "-", stdin=diff)
    _git(repo, "apply", "-", stdin=diff)
    for path, content in expected.items():
        assert (repo / path).read_text() == content


def test_diff_for_new_and_deleted_files_applies(tmp_path: Path) -> None:
    repo = tmp_path
    _git(repo, "init", "-q")
    (repo / "gone.py").write_text("bye\n")
    (repo / "tail.py").write_text("a\nb")
    old = {"gone.py": "bye\n", "tail.py": "a\nb", "new.py": None}
    new = {"gone.py": None, "tail.py": "a\nc\n", "new.py": "hello"}
    diff = unified_diff(old, new)
    assert "new file mode 100644" in diff and "deleted file mode 100644" in diff
    assert "\\ No newline at end of file" in diff
    _git(repo, "apply", "-", stdin=diff)
    assert not (repo / "gone.py").exists()
    assert (repo / "tail.py").read_text() == "a\nc\n"
    assert (repo / "new.py").read_text() == "hello"
