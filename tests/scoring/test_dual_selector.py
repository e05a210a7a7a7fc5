"""The `dual` selector (CodeT) through the selector registry, with the scripted model.

Tests run through ``SelectionInput.run_test``; here it is a table of what each candidate's
run of each test gives (pure selection logic; the sandboxed runs are the kinds' business).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from agentlab.config import SelectionSection
from agentlab.errors import ConfigError
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.selector import Option, TestRun
from agentlab.scoring.selectors import DualConfig, SelectionInput, make_selector
from agentlab.types import CallContext, Candidate, ChatRequest, ChatResponse

TESTS = ("assert f(1) == 2", "assert f(2) == 4", "assert f(0) == 1", "assert f(3) == 6")
# Candidate 7 (top-voted) passes the one wrong test and two right ones; 8 and 9 behave alike
# and pass the three right tests. Raw votes tie 7, 8, 9 at three tests (7 wins on order).
PASSES = {
    TESTS[0]: {7, 8, 9},
    TESTS[1]: {8, 9},
    TESTS[2]: {7, 10},  # a wrong generated test (f(0) is 0)
    TESTS[3]: {7, 8, 9},
}


def _role(model: ScriptedModel, seen: list[ChatRequest] | None = None) -> ModelRole:
    async def generate(request: ChatRequest, _context: CallContext) -> ChatResponse:
        if seen is not None:
            seen.append(request)
        return await model.generate(request)

    return ModelRole(generate, "scripted", "selection")


async def _run_test(script: str) -> Mapping[int, TestRun]:
    return {c: TestRun(0 if c in PASSES[script.strip()] else 1, "") for c in (7, 8, 9, 10)}


def _problem() -> SelectionInput:
    options = [
        Option(Candidate(id=7, task_id="t", patch="p7"), 3),
        Option(Candidate(id=8, task_id="t", patch="p8"), 2),
        Option(Candidate(id=9, task_id="t", patch="p9"), 2),
        Option(Candidate(id=10, task_id="t", patch="p10"), 1),
    ]
    return SelectionInput("t", "Double a number.", options, _run_test)


async def test_dual_agreement_picks_the_agreeing_set_over_the_top_voted() -> None:
    blocks = "\n".join(f"```python\n{t}\n```" for t in TESTS)
    model = ScriptedModel([Rule(replies=(f"Here are tests.\n{blocks}",))])
    selector = make_selector(DualConfig(tests=4), {"selection": _role(model)})
    pick = await selector.pick(_problem())
    assert pick is not None and not pick.fallback
    # {8,9} pass 3 tests: 2 x 3 = 6 beats {7} (3 tests: 1 x 3) and {10} (1 x 1).
    assert (pick.method, pick.candidate_id) == ("dual", 8)
    assert pick.reason == "consensus set [8, 9]: 2 candidates x 3 of 4 tests"


async def test_no_usable_tests_fall_back_to_the_top_voted() -> None:
    model = ScriptedModel([Rule(replies=("I cannot write tests.",))])
    seen: list[ChatRequest] = []
    selector = make_selector(DualConfig(), {"selection": _role(model, seen)})
    pick = await selector.pick(_problem())
    assert pick is not None and pick.fallback and pick.candidate_id == 7
    assert "no ```python block" in pick.reason
    assert len(seen) == 3  # the question and two format fixes


def test_dual_is_chosen_by_name_in_the_selection_section() -> None:
    section = SelectionSection.model_validate({"methods": ["vote", "dual"]})
    assert [m.type for m in section.methods] == ["vote", "dual"]
    with pytest.raises(ConfigError, match=r"needs models\.selection"):
        make_selector(DualConfig(), {})
