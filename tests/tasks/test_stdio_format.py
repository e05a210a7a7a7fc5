"""Reading stdin/stdout problems (CodeContests shape) and comparing outputs: host-only logic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.errors import DatasetError
from agentlab.tasks import stdio


def _row(**over: object) -> str:
    row = {
        "name": "x/1",
        "description": "Add.",
        "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
        "private_tests": {"input": ["2 2\n"], "output": ["4\n"]},
        "generated_tests": {"input": ["5 5\n"], "output": ["10\n"]},
        "solutions": {"language": ["cpp", "python3"], "solution": ["int main(){}", "print(3)"]},
        "time_limit": {"seconds": 1, "nanos": 500000000},
        "memory_limit_bytes": 64 * 1024 * 1024,
        "cf_rating": 800,  # fields the loader does not use are ignored
    }
    row.update(over)
    return json.dumps(row)


def test_loads_a_codecontests_row(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(_row() + "\n\n")
    problem = stdio.load_problems(path)["x/1"]
    assert [c.input for c in problem.examples] == ["1 2\n"]
    assert [c.output for c in problem.hidden] == ["4\n", "10\n"]
    assert problem.reference == "print(3)"  # the Python solution, not the C++ one
    assert (problem.time_limit_s, problem.memory_limit_mb) == (1.5, 64)


def test_bad_rows_name_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(_row() + "\n" + _row(description=None) + "\n")
    with pytest.raises(DatasetError, match=r"p\.jsonl:2: description: "):
        stdio.load_problems(path)
    path.write_text(_row(private_tests={"input": ["1\n"], "output": []}) + "\n")
    with pytest.raises(DatasetError, match="x/1: 1 test inputs but 0 outputs"):
        stdio.load_problems(path)
    with pytest.raises(DatasetError, match="cannot read stdin/stdout problems"):
        stdio.load_problems(tmp_path / "missing.jsonl")


def test_outputs_compare_token_wise() -> None:
    assert stdio.digest("1  2\n3\n\n") == stdio.digest(" 1 2 3")
    assert stdio.digest("1 2 3") != stdio.digest("1 23")
    assert stdio.digest("YES") != stdio.digest("yes")


def test_the_bundled_dataset_is_found_by_either_spelling() -> None:
    assert stdio.bundled_path("agentlab_stdio") == stdio.bundled_path("agentlab-stdio")
    assert stdio.bundled_path("agentlab-mini") is None


DEFINES_MAIN = "import sys\n\ndef main():\n    print(sum(map(int, sys.stdin.read().split())))\n"


@pytest.mark.parametrize(
    ("program", "appended"),
    [
        (DEFINES_MAIN, "main"),  # defined, never called: the call is appended
        ("def solve():\n    print(input()[::-1])\n", "solve"),
        # solve is called, but only inside main, which nothing runs: main is the entry
        ("def main():\n    solve()\n\ndef solve():\n    print(1)\n", "main"),
        ("def main(x=1, *, y=2):\n    print(x + y)\n", "main"),  # defaults only: callable
    ],
)
def test_an_entry_point_defined_but_never_called_gets_the_call(program: str, appended: str) -> None:
    done = stdio.with_entry_call(program)
    assert done == program.rstrip("\n") + f"\n\n\n{appended}()\n"
    assert stdio.with_entry_call(done) == done  # once is enough: now it is called


@pytest.mark.parametrize(
    "program",
    [
        DEFINES_MAIN + "\nmain()\n",
        DEFINES_MAIN + "\nif __name__ == '__main__':\n    main()\n",
        "def main():\n    print(1)\n\ndef solve():\n    print(2)\n\nsolve()\n",  # solve runs
        "print(int(input()) * 2)\n",  # no function at all
        "def solve(n):\n    print(n)\n",  # needs an argument: nothing to call it with
        "def helper():\n    print(1)\n",  # not an entry point name
        "class A:\n    def main(self):\n        print(1)\n",  # not top level
        "def main(:\n    print(1)\n",  # does not parse: left as written, fails as written
    ],
)
def test_other_programs_are_left_exactly_as_written(program: str) -> None:
    assert stdio.with_entry_call(program) == program
