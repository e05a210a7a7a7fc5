"""Selection for stdin/stdout programs: CodeT's dual agreement with AlphaCode-style clustering.

Per problem, every candidate program runs (in one sandbox, under the problem's limits, each
run confined as in grading) on

- the public examples, the *tests*: the statement shows their expected outputs, so a program
  either passes one or not (the hidden cases are never used: they are the grade);
- ``selection.generated_inputs`` new inputs the testing model writes (one call per problem;
  the ``testing`` role, else ``default``, else the editing model), which carry no expected
  output: programs printing the same outputs on them agree.

Candidates passing the same examples and printing the same outputs form a consensus set
(:mod:`agentlab.scoring.codet`); a set scores ``size x examples passed`` and, when no one passes
an example, the largest set of agreeing programs wins. The best set's first candidate is the
``codet`` pick; the top ``selection.top_m`` representatives go to the configured selectors.

Cost and resume: the input call is an ordinary billed, budgeted ``llm_call`` (its ``role``
column says ``selection_inputs``); a resumed run or a re-selection (``agentlab select --k``)
sends the identical request and is answered from the store's response cache at $0. A reply with no
usable input leaves the examples alone, said in the pick's reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlab.agent.replies import code_blocks
from agentlab.config import RoleName, SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.humaneval_select import (
    candidates_by_task,
    save_codet_then_select,
)
from agentlab.errors import SandboxError
from agentlab.scoring.codet import ConsensusSet, consensus_sets
from agentlab.scoring.selectors import Selector
from agentlab.store.scoring_store import ScoringStore
from agentlab.tasks import stdio as sio
from agentlab.types import CallContext, Candidate, Message, SandboxSpec

BASE_IMAGE = "agentlab/base:bookworm"
STAGE = "selection_inputs"
MAX_INPUT_CHARS = 20_000  # a generated input longer than this is dropped, not truncated
ASK_INPUTS = (
    "Here is a programming problem. Write {count} different test inputs for it, each in"
    " exactly the input format the statement describes; include small edge cases. Put each"
    " input in its own ``` block. Inputs only: no expected outputs, no explanation.\n\n"
    "# {title}\n\n{statement}\n{examples}"
)


def inputs_prompt(problem: sio.Problem, count: int) -> str:
    """The request for ``count`` new inputs (the statement and the public examples)."""
    return ASK_INPUTS.format(
        count=count,
        title=problem.title,
        statement=problem.statement,
        examples=sio.examples_text(problem),
    )


def parse_inputs(reply: str, problem: sio.Problem, count: int) -> list[str]:
    """The reply's fenced blocks as inputs: non-empty, newline-ended, new (not an example and
    not repeated), at most ``MAX_INPUT_CHARS`` each; the first ``count``."""
    seen = {c.input.strip() for c in problem.examples}
    found: list[str] = []
    for _, body in code_blocks(reply):
        text = body.strip()
        if not text or text in seen or len(text) > MAX_INPUT_CHARS:
            continue
        seen.add(text)
        found.append(text + "\n")
    return found[:count]


def inputs_role(env: RunEnv) -> RoleName:
    """``testing`` when the config names a testing (or default) model, else ``editing``."""
    models = env.config.models
    return "testing" if models.testing or models.default else "editing"


async def generated_inputs(env: RunEnv, problem: sio.Problem, count: int) -> list[str]:
    """``count`` inputs from the model for ``problem`` (none asked when ``count`` is 0)."""
    if count == 0:
        return []
    ctx = CallContext(run_id=env.run_id, task_id=problem.task_id, sample=0)
    chat = env.models.chat(inputs_role(env), ctx)
    ask = Message(role="user", content=inputs_prompt(problem, count))
    reply = await chat([ask], stage=STAGE, step=0)
    return parse_inputs(reply, problem, count)


async def behaviour(
    env: RunEnv, problem: sio.Problem, candidates: Sequence[Candidate], inputs: Sequence[str]
) -> tuple[dict[int, frozenset[int]], dict[int, tuple[str, ...]]]:
    """Per candidate: the examples it passes, and what it did on each generated input
    (verdict and output digest, so two crashes agree with each other, not with a silent run)."""
    cases = [*problem.examples, *(sio.Case(input=text) for text in inputs)]
    programs = {str(c.stored_id): c.patch for c in candidates}
    labels = {"agentlab.instance_id": problem.task_id, "agentlab.sample": "codet"}
    spec = SandboxSpec(
        image=BASE_IMAGE, run_id=env.run_id, cpus=2.0, memory_mb=1024, pids_limit=512, labels=labels
    )
    limits = sio.Limits.of(problem, stop_on_fail=False)
    async with env.pool.open(spec, problem.task_id) as sb:
        results = await sio.run_cases(sb, programs, cases, limits)
    passes: dict[int, frozenset[int]] = {}
    outputs: dict[int, tuple[str, ...]] = {}
    examples = len(problem.examples)
    for key, got in results.items():
        if len(got) != len(cases):
            raise SandboxError(f"CodeT runner: {len(got)}/{len(cases)} results for {key}")
        cid = int(key)
        passes[cid] = frozenset(i for i in range(examples) if got[i].passed)
        outputs[cid] = tuple(f"{r.verdict}:{r.output_sha}" for r in got[examples:])
    if set(passes) != {c.stored_id for c in candidates}:
        raise SandboxError(f"CodeT runner returned {len(passes)}/{len(candidates)} programs")
    return passes, outputs


def describe(best: ConsensusSet, examples: int, inputs: int, asked: int) -> str:
    """The pick's reason, naming what the agreement rests on."""
    agreed = (
        f"same outputs on {inputs} generated inputs"
        if inputs
        else f"no generated inputs ({asked} asked)"
        if asked
        else "no generated inputs"
    )
    return (
        f"cluster of {len(best.members)} passing {len(best.passed)}/{examples} examples, {agreed}"
    )


async def select_stdio(
    env: RunEnv,
    problems: dict[str, sio.Problem],
    section: SelectionSection,
    selectors: Sequence[Selector],
) -> None:
    """CodeT per problem, stored as ``codet`` picks, then ``selectors`` over the top m."""
    store = ScoringStore(env.store.store)
    by_task = await candidates_by_task(store, env.run_id, problems)

    async def one(task_id: str) -> None:
        problem, candidates = problems[task_id], by_task[task_id]
        inputs = await generated_inputs(env, problem, section.generated_inputs)
        passes, outputs = await behaviour(env, problem, candidates, inputs)
        clusters = consensus_sets(passes, outputs)
        reason = describe(clusters[0], len(problem.examples), len(inputs), section.generated_inputs)
        await save_codet_then_select(
            store, env.run_id, problem.statement, candidates, clusters, reason, section, selectors
        )

    await fan_out(sorted(by_task), one, max_workers=section.max_sandboxes)
