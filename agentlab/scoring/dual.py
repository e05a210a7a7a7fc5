"""The ``dual`` selector: CodeT's dual agreement with tests the model writes for the problem.

For function and stdin/stdout kinds, where a candidate is a whole program and a test is a
short script: the selection model writes ``tests`` test scripts at once (one ```python block
each); every script runs on every option through ``SelectionInput.run_test``; a candidate
passes a test when the script exits 0 within its time. :func:`agentlab.scoring.codet.
dual_agreement` then groups candidates by the tests they pass (and, with ``cluster_outputs``,
by what the scripts printed for them) and picks from the set with the largest
members x tests passed.

Falls back to the top-voted option (``fallback=True``) when the model writes no usable test.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from agentlab.errors import ReplyFormatError
from agentlab.scoring.codet import dual_agreement
from agentlab.scoring.llm import ModelRole, Parsed, ask
from agentlab.scoring.selectors import DualConfig, Pick, SelectionInput, _role
from agentlab.types import Message

SYSTEM = "You write tests that tell correct solutions of a programming problem from wrong ones."
ASK = (
    "{problem}\n\nWrite {count} independent tests of a solution to this problem. Reply with"
    " {count} ```python blocks, one test each. A test is a short script that exits with an"
    " error (for example a failed assert) when the solution is wrong."
)
_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S)


def scripts_from(text: str) -> list[str]:
    """The non-empty python blocks of a reply, distinct, in order (ReplyFormatError if none)."""
    scripts = list(dict.fromkeys(b for b in _BLOCK.findall(text) if b.strip()))
    if not scripts:
        raise ReplyFormatError("no ```python block with a test in the reply")
    return scripts


def _sha(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


class DualAgreementSelector:
    """Picks the candidate whose consensus set has the most members x tests passed."""

    name = "dual"

    def __init__(self, config: DualConfig, roles: Mapping[str, ModelRole]) -> None:
        self.config = config
        self.role = _role(roles, config.role, self.name)

    async def pick(self, problem: SelectionInput) -> Pick | None:
        if problem.run_test is None or len(problem.options) < 2:
            return None
        ask_text = ASK.format(problem=problem.problem, count=self.config.tests)
        history = [Message(role="system", content=SYSTEM), Message(role="user", content=ask_text)]
        written = await ask(
            self.role, history, scripts_from, task_id=problem.task_id, step=0, max_fixes=2
        )
        fallback = problem.options[0].candidate_id
        if not isinstance(written, Parsed):
            reason = f"no usable tests: {written.reason}"
            return Pick(self.name, fallback, reason, fallback=True, model=self.role.model)
        ids = [o.candidate_id for o in problem.options]
        passes: dict[int, set[int]] = {c: set() for c in ids}
        outputs: dict[int, list[str]] = {c: [] for c in ids}
        for number, script in enumerate(written.value[: self.config.tests]):
            runs = await problem.run_test(script)
            for cand in ids:
                run = runs.get(cand)
                if run is not None and run.exit_code == 0 and not run.timed_out:
                    passes[cand].add(number)
                outputs[cand].append(_sha(run.output) if run is not None else "missing")
        chosen = dual_agreement(passes, outputs if self.config.cluster_outputs else None)
        assert chosen is not None  # there are at least two options
        best = chosen.best
        reason = (
            f"consensus set {list(best.members)}: {len(best.members)} candidates x "
            f"{len(best.passed)} of {len(written.value[: self.config.tests])} tests"
        )
        return Pick(self.name, chosen.candidate, reason, model=self.role.model)
