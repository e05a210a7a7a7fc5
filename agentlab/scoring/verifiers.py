"""Verifier models: a pointwise judge and a pairwise tournament, each its own model and role.

- ``judge``: the model reviews one patch and ends with ``SCORE: <0-10>``; the score is n/10.
- ``logprob``: the model answers YES or NO; the score is P(YES) / (P(YES) + P(NO)) from the
  first token's log-probabilities (the endpoint's top alternatives), or 1/0 from the text
  when the endpoint gives none.
- ``pairwise``: every pair of the top m meets twice, once in each seating (round robin, so
  position bias cancels); the model ends with ``WINNER: A`` or ``WINNER: B``. A candidate's
  tournament score is its number of wins.

An answer that cannot be read scores 0.5 (judge) or a draw (pairwise, half a win each), and
keeps the reply as the rationale, so a bad verifier reply is visible but never fatal.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.scoring import prompts
from agentlab.scoring.llm import ModelRole
from agentlab.types import ChatResponse, Message

_SCORE = re.compile(r"SCORE\W*(\d+(?:\.\d+)?)", re.I)
_WINNER = re.compile(r"WINNER\W*([AB])\b")
_YES, _NO = ("yes",), ("no",)


@dataclass(frozen=True)
class Verdict:
    """One verifier judgement (a row of ``verifier_score``)."""

    method: str  # judge | logprob | pairwise
    candidate_id: int
    score: float
    opponent_id: int | None = None
    rationale: str = ""


def _judge_messages(system: str, problem: str, patch: str) -> list[Message]:
    user = prompts.JUDGE_USER.format(problem=problem.strip(), patch=patch.strip())
    return [Message(role="system", content=system), Message(role="user", content=user)]


async def judge(
    role: ModelRole, *, task_id: str, problem: str, candidate_id: int, patch: str
) -> Verdict:
    """A 0..1 score from the model's ``SCORE: n`` (0-10)."""
    text = await role.reply(_judge_messages(prompts.JUDGE_SYSTEM, problem, patch), task_id=task_id)
    found = _SCORE.findall(text)
    score = min(max(float(found[-1]) / 10.0, 0.0), 1.0) if found else 0.5
    return Verdict("judge", candidate_id, score, rationale=text)


async def judge_logprob(
    role: ModelRole, *, task_id: str, problem: str, candidate_id: int, patch: str
) -> Verdict:
    """A 0..1 score from the first answer token's log-probabilities of YES and NO."""
    response = await role.send(
        _judge_messages(prompts.JUDGE_LOGPROB_SYSTEM, problem, patch),
        task_id=task_id,
        logprobs=True,
        max_tokens=4,
    )
    return Verdict("logprob", candidate_id, yes_probability(response), rationale=_text(response))


def yes_probability(response: ChatResponse) -> float:
    """P(YES) / (P(YES) + P(NO)) over the first token's alternatives, else from the text."""
    choice = response.choices[0] if response.choices else None
    if choice is not None and choice.logprobs:
        first = choice.logprobs[0]
        options = [(first.token, first.logprob), *first.top]
        mass = {"yes": 0.0, "no": 0.0}
        seen: set[str] = set()
        for token, logprob in options:
            word = token.strip().strip(".!").lower()
            if word in mass and token not in seen:
                seen.add(token)
                mass[word] += math.exp(logprob)
        total = mass["yes"] + mass["no"]
        if total > 0:
            return mass["yes"] / total
    words = _text(response).strip().strip(".!").lower().split()
    return 1.0 if words[:1] == ["yes"] else 0.0 if words[:1] == ["no"] else 0.5


def _text(response: ChatResponse) -> str:
    return response.choices[0].text if response.choices else ""


async def pairwise(
    role: ModelRole,
    *,
    task_id: str,
    problem: str,
    a: tuple[int, str],
    b: tuple[int, str],
    step: int = 0,
) -> list[Verdict]:
    """One match: two rows (each side's result: 1 win, 0 loss, 0.5 unreadable)."""
    user = prompts.PAIRWISE_USER.format(problem=problem.strip(), a=a[1].strip(), b=b[1].strip())
    messages = [
        Message(role="system", content=prompts.PAIRWISE_SYSTEM),
        Message(role="user", content=user),
    ]
    text = await role.reply(messages, task_id=task_id, step=step)
    found = _WINNER.findall(text)
    score_a = 0.5 if not found else 1.0 if found[-1] == "A" else 0.0
    return [
        Verdict("pairwise", a[0], score_a, opponent_id=b[0], rationale=text),
        Verdict("pairwise", b[0], 1.0 - score_a, opponent_id=a[0], rationale=text),
    ]


async def tournament(
    role: ModelRole, *, task_id: str, problem: str, entrants: Sequence[tuple[int, str]]
) -> list[Verdict]:
    """Round robin over ``entrants`` (in vote order); every match's two rows.

    Each pair meets twice, once in each seating, so a model's preference for the patch shown
    first (or second) adds the same to both and cancels; a candidate's score is its wins over
    both seatings.
    """
    rows: list[Verdict] = []
    for i, (a, b) in enumerate(itertools.combinations(entrants, 2)):
        for seat, (first, second) in enumerate(((a, b), (b, a))):
            rows += await pairwise(
                role, task_id=task_id, problem=problem, a=first, b=second, step=2 * i + seat
            )
    return rows


def best(verdicts: Sequence[Verdict], order: Sequence[int]) -> int:
    """The candidate with the highest total score; ties go to the earlier one in ``order``."""
    totals = {c: 0.0 for c in order}
    for v in verdicts:
        totals[v.candidate_id] = totals.get(v.candidate_id, 0.0) + v.score
    return max(order, key=lambda c: (totals[c], -order.index(c)))
