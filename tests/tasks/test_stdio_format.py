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
