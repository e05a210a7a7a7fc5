"""Build the agentlab-stdio dataset from the human-readable sources beside this file.

Usage: ``python3 datasets/agentlab-stdio/build.py [--out DIR]`` (default: the packaged folder
``agentlab/datasets/agentlab_stdio``).

``problems/{easy,medium,hard}.yaml`` hold, per problem, the statement, public examples,
hidden cases with hand-written outputs, optional ``generated`` snippets (deterministic
Python that prints a large input) and a reference solution. This script
1. runs every generated snippet to get its input, and the reference solution on it to get
   the output (those cases test speed; correctness is pinned by the hand-written cases),
2. runs the reference solution on every example and hidden case and refuses to write
   anything if an output differs from the hand-written one (compared token-wise, as the
   grader does), or if a run takes more than half the problem's time limit,
3. writes ``problems.jsonl`` in the CodeContests shape (``public_tests``, ``private_tests``,
   ``generated_tests``, ``solutions``, ``time_limit``, ``memory_limit_bytes``).

The output is byte-identical on every machine (fixed seeds, sorted keys); a test rebuilds and
compares. These runs are on the host, for building only; the grader's real check runs every
reference solution in the sandbox (tests/datasets/test_agentlab_stdio.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent.parent / "agentlab" / "datasets" / "agentlab_stdio"
LEVELS = ("easy", "medium", "hard")
DEFAULT_TIME_LIMIT_S = 1
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024


class BuildError(Exception):
    """A problem's sources disagree with what its reference solution does."""


def _run(code: str, stdin: str, timeout: float) -> tuple[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(code)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-I", fh.name],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        Path(fh.name).unlink()
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise BuildError(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout, took


def _tokens(text: str) -> list[str]:
    return text.split()


def build_problem(raw: dict[str, Any], level: str) -> dict[str, Any]:
    """One JSONL record, after checking the reference solution on every case."""
    pid = raw["id"]
    limit = float(raw.get("time_limit", DEFAULT_TIME_LIMIT_S))
    solution = raw["solution"]
    generated_inputs = [_run(gen, "", 60)[0] for gen in raw.get("generated", [])]
    generated_outputs = []
    for text in generated_inputs:
        out, took = _run(solution, text, 60)
        if took > limit / 2:
            raise BuildError(f"{pid}: reference took {took:.2f}s on a generated case")
        generated_outputs.append(out)
    for kind in ("examples", "hidden"):
        for i, case in enumerate(raw[kind]):
            out, took = _run(solution, case["in"], 60)
            if _tokens(out) != _tokens(case["out"]):
                raise BuildError(
                    f"{pid}: {kind}[{i}]: reference printed {out[:200]!r}, "
                    f"expected {case['out'][:200]!r}"
                )
            if took > limit / 2:
                raise BuildError(f"{pid}: reference took {took:.2f}s on {kind}[{i}]")
    return {
        "name": f"agentlab-stdio/{pid}",
        "title": raw["title"],
        "difficulty": level,
        "description": raw["statement"],
        "public_tests": _tests(raw["examples"]),
        "private_tests": _tests(raw["hidden"]),
        "generated_tests": {"input": generated_inputs, "output": generated_outputs},
        "solutions": {"language": ["python3"], "solution": [solution]},
        "time_limit": {"seconds": int(limit), "nanos": round((limit % 1) * 1e9)},
        "memory_limit_bytes": MEMORY_LIMIT_BYTES,
        "source": "written for agentlab (Apache-2.0)",
    }


def _tests(cases: list[dict[str, str]]) -> dict[str, list[str]]:
    return {"input": [c["in"] for c in cases], "output": [c["out"] for c in cases]}


def build(out: Path) -> list[dict[str, Any]]:
    """Check every problem, then write ``problems.jsonl`` under ``out``."""
    records = []
    seen: set[str] = set()
    for level in LEVELS:
        for raw in yaml.safe_load((HERE / "problems" / f"{level}.yaml").read_text()):
            if raw["id"] in seen:
                raise BuildError(f"duplicate problem id {raw['id']}")
            seen.add(raw["id"])
            records.append(build_problem(raw, level))
    out.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    (out / "problems.jsonl").write_text(lines)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    try:
        records = build(args.out)
    except BuildError as exc:
        sys.exit(f"build failed: {exc}")
    print(f"wrote {len(records)} problems to {args.out / 'problems.jsonl'}")


if __name__ == "__main__":
    main()
