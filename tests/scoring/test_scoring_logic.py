"""The pure parts of scoring: diff normalisation, vote rules, reply parsing, metrics."""

from __future__ import annotations

import pytest

from agentlab.errors import ReplyFormatError
from agentlab.llm.scripted import Rule, ScriptedModel
from agentlab.scoring.diffs import normalise_diff, patch_sha
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.matrix import Cell
from agentlab.scoring.metrics import per_problem, per_run
from agentlab.scoring.selector import Option, TestRun, parse_reply, select
from agentlab.scoring.verifiers import best, tournament, yes_probability
from agentlab.scoring.votes import count_votes, not_applied, rank, top, verdicts
from agentlab.types import CallContext, Candidate, ChatRequest, ChatResponse, Choice, TokenLogprob

DIFF = """\
diff --git a/m.py b/m.py
index 1111111..2222222 100644
--- a/m.py
+++ b/m.py
@@ -1,3 +1,3 @@ def f():
 a = 1
-b = 2
+b = 3
 c = 4
"""


def test_same_change_written_differently_normalises_equal() -> None:
    # No index line, other hunk offsets (a miscount), no function context, trailing spaces.
    other = DIFF.replace("index 1111111..2222222 100644\n", "").replace(
        "@@ -1,3 +1,3 @@ def f():", "@@ -7,3 +9,3 @@"
    )
    other = other.replace("+b = 3\n", "+b = 3   \n")
    assert normalise_diff(other) == normalise_diff(DIFF)
    assert patch_sha(DIFF) == patch_sha(other)
    assert patch_sha(DIFF) != patch_sha(DIFF.replace("+b = 3", "+b = 5"))
    assert patch_sha("") == patch_sha("\n\n") == ""


def test_different_changes_never_merge() -> None:
    # The same edit at another place (other context around it) is another change.
    elsewhere = DIFF.replace(" a = 1\n", " z = 0\n")
    assert patch_sha(elsewhere) != patch_sha(DIFF)
    # Dropping the final newline is a change of its own.
    at_end = "--- a/m.py\n+++ b/m.py\n@@ -3 +3 @@\n-c = 4\n+c = 5\n"
    no_newline = at_end + "\\ No newline at end of file\n"
    assert patch_sha(at_end) != patch_sha(no_newline)
    # ... and whether the marker follows the old or the new line matters too.
    old_side = "--- a/m.py\n+++ b/m.py\n@@ -3 +3 @@\n-c = 4\n\\ No newline at end of file\n+c = 5\n"
    assert len({patch_sha(no_newline), patch_sha(old_side)}) == 2
    # A removed line that looks like a header or an index line is still a removed line.
    dashes = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,1 @@\n--- x\n-index 1\n+++ y\n"
    assert patch_sha(dashes) != patch_sha(dashes.replace("-index 1", "-index 2"))
    assert patch_sha(dashes) != patch_sha(dashes.replace("+++ y", "+++ z"))


def _cell(cand: int | None, test: int, passed: bool, attempt: int = 0) -> Cell:
    return Cell(cand, test, attempt, passed, 0 if passed else 1)


def test_votes_skip_flaky_and_non_reproducing_tests() -> None:
    cells = [
        _cell(None, 1, False), _cell(None, 1, False, 1),  # reproduces
        _cell(None, 2, True), _cell(None, 2, True, 1),  # passes unpatched
        _cell(None, 3, True), _cell(None, 3, False, 1),  # flaky
        _cell(10, 1, True), _cell(10, 2, True), _cell(10, 3, True),
        _cell(20, 1, False), _cell(20, 2, True), _cell(20, 3, True),
    ]  # fmt: skip
    tests = verdicts(cells)
    assert [t.valid for t in tests.values()] == [True, False, False]
    assert tests[3].flaky and not tests[2].fails_without_patch
    assert count_votes(cells, tests) == {10: 1, 20: 0}


def test_error_cells_cast_no_vote() -> None:
    error = Cell(None, 1, 0, False, 137, error=True)
    cells = [error, Cell(None, 1, 1, False, 137, error=True), _cell(10, 1, True)]
    assert not verdicts(cells)[1].valid  # a dead baseline is not "fails without patch"
    cells = [_cell(None, 1, False), _cell(10, 1, True), Cell(20, 1, 0, False, 137, error=True)]
    assert count_votes(cells, verdicts(cells)) == {10: 1}
    assert not_applied([Cell(20, 1, 0, False, 137, applied=False, error=True)]) == set()


def test_rank_ties_go_to_the_shorter_patch_and_unusable_go_last() -> None:
    patches = {1: "x" * 50, 2: "x" * 20, 3: "x" * 5, 4: ""}
    ranked = rank(patches, {1: 2, 2: 2, 3: 2, 4: 0}, not_applied={3})
    assert [r.candidate for r in ranked] == [2, 1, 3, 4]
    assert [r.candidate for r in top(ranked, 5)] == [2, 1]
    only_empty = rank({4: ""}, {})
    assert [r.candidate for r in top(only_empty, 3)] == [4]


def test_selection_replies_parse_strictly() -> None:
    assert parse_reply("I am sure.\nPICK: 2", 3, True).pick == 2
    assert parse_reply("```python\nprint(1)\n```", 3, True).script == "print(1)\n"
    for bad, may in (("PICK: 4", True), ("PICK: 1\nPICK: 2", True), ("hmm", True)):
        with pytest.raises(ReplyFormatError):
            parse_reply(bad, 3, may)
    with pytest.raises(ReplyFormatError, match="no tests are left"):
        parse_reply("```python\nprint(1)\n```", 3, False)


def _role(model: ScriptedModel, role: str = "selection") -> ModelRole:
    async def generate(request: ChatRequest, _context: CallContext) -> ChatResponse:
        return await model.generate(request)

    return ModelRole(generate, "scripted", role)


async def test_selection_fixes_format_then_falls_back_when_it_never_picks() -> None:
    options = [
        Option(Candidate(id=7, task_id="t", patch="diff a"), 3),
        Option(Candidate(id=8, task_id="t", patch="diff b"), 1),
    ]

    async def run_test(_script: str) -> dict[int, TestRun]:
        return {7: TestRun(0, "ok"), 8: TestRun(1, "boom")}

    fixed = ScriptedModel([Rule(replies=("thinking...", "PICK: 2"))])
    outcome = await select(
        _role(fixed), task_id="t", problem="p", options=options, run_test=run_test
    )
    assert (outcome.candidate_id, outcome.fallback) == (8, False)

    endless = ScriptedModel([Rule(replies=("```python\nprint(1)\n```",))])
    outcome = await select(
        _role(endless), task_id="t", problem="p", options=options, run_test=run_test, max_tests=1
    )
    assert (outcome.candidate_id, outcome.fallback) == (7, True)
    assert [s.action for s in outcome.steps] == ["test", "format_failure"]
    assert "Candidate 2: exit code 1\nboom" in outcome.steps[0].feedback


def test_yes_probability_from_logprobs_and_text() -> None:
    lp = TokenLogprob(token="YES", logprob=-0.2, top=(("YES", -0.2), ("NO", -1.8), ("x", -3.0)))
    resp = ChatResponse(model="m", choices=(Choice(text="YES", logprobs=(lp,)),))
    assert yes_probability(resp) == pytest.approx(0.8320, abs=1e-3)
    assert yes_probability(ChatResponse(model="m", choices=(Choice(text="No."),))) == 0.0


async def test_tournament_round_robin_and_best() -> None:
    model = ScriptedModel(
        [Rule(user="Patch A\n```diff\nB", replies=("WINNER: A",)), Rule(replies=("WINNER: B",))]
    )
    rows = await tournament(
        _role(model, "verifier_pairwise"), task_id="t", problem="p",
        entrants=[(1, "A"), (2, "B"), (3, "C")],
    )  # fmt: skip
    assert len(rows) == 12  # three pairs, each played in both seatings, two rows a match
    assert best(rows, [1, 2, 3]) == 2  # "B" wins all its matches, in either seat


async def test_tournament_swaps_seats_so_position_bias_cancels() -> None:
    always_a = ScriptedModel([Rule(replies=("WINNER: A",))])
    rows = await tournament(
        _role(always_a, "verifier_pairwise"), task_id="t", problem="p",
        entrants=[(1, "A"), (2, "B"), (3, "C")],
    )  # fmt: skip
    totals = {c: sum(r.score for r in rows if r.candidate_id == c) for c in (1, 2, 3)}
    assert totals == {1: 2.0, 2: 2.0, 3: 2.0}  # a judge that always picks seat A favours no one
    assert {(r.candidate_id, r.opponent_id) for r in rows} >= {(1, 2), (2, 1)}


def test_metrics_efficiency() -> None:
    problems = per_problem(
        {"a": [True, False], "b": [False, None], "c": [True, True]},
        {"a": True, "b": False, "c": False},
    )
    run = per_run(problems)
    assert run.coverage == pytest.approx(2 / 3)
    assert run.selected == pytest.approx(1 / 3)
    assert run.efficiency == pytest.approx(0.5)
    assert run.random == pytest.approx((0.5 + 0 + 1) / 3)
    assert run.ungraded == 1
