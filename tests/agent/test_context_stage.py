"""The context stage's model calls, with the scripted model (no network, no sandbox)."""

from __future__ import annotations

from agentlab.agent.chat import ModelChat
from agentlab.agent.context_stage import (
    FileScore,
    build_context,
    rank_files,
    relevant,
    score_file,
)
from agentlab.llm.testing import Rule, ScriptedModel

FILES = {
    "pkg/units.py": "def convert(value, unit):\n    return value\n",
    "pkg/io.py": "def read(path):\n    return open(path).read()\n",
    "pkg/format.py": "def show(q):\n    return str(q)\n",
}


def chat(model: ScriptedModel) -> ModelChat:
    return ModelChat.for_backend(model, "scripted")


async def test_score_file_reads_score_and_note() -> None:
    model = ScriptedModel(
        [
            Rule(user="File pkg/units.py", replies=("Defines convert.\nSCORE: 9",)),
            Rule(user="File pkg/io", replies=("Unrelated I/O.\nSCORE: 1",)),
        ]
    )
    units = await score_file(
        chat(model), problem="convert ignores units", path="pkg/units.py", content="x"
    )
    assert units == FileScore(path="pkg/units.py", score=0.9, note="Defines convert.")
    io = await score_file(chat(model), problem="p", path="pkg/io.py", content="x")
    assert io.score == 0.1


async def test_unparseable_score_counts_as_irrelevant_with_reason() -> None:
    model = ScriptedModel(default="Very relevant indeed.")
    out = await score_file(chat(model), problem="p", path="a.py", content="x", max_fixes=1)
    assert out.score == 0.0 and out.error is not None and "no score found" in out.error
    assert model.calls == 2


async def test_rank_files_uses_model_order_then_score_order() -> None:
    scores = [
        FileScore(path="pkg/units.py", score=0.9),
        FileScore(path="pkg/io.py", score=0.2),
        FileScore(path="pkg/format.py", score=0.6),
    ]
    assert [s.path for s in relevant(scores, 0.5)] == ["pkg/units.py", "pkg/format.py"]
    model = ScriptedModel([Rule(replies=("```\npkg/format.py\n```",))])
    ranking = await rank_files(chat(model), problem="p", scores=scores, threshold=0.5)
    assert ranking.paths == ("pkg/format.py", "pkg/units.py") and ranking.from_model
    packed = build_context(ranking, FILES, budget_tokens=1000)
    assert packed.included == ("pkg/format.py", "pkg/units.py")
    assert packed.text.index("pkg/format.py") < packed.text.index("pkg/units.py")


async def test_rank_files_falls_back_and_skips_the_model_when_pointless() -> None:
    scores = [FileScore(path="a.py", score=0.7), FileScore(path="b.py", score=0.8)]
    broken = ScriptedModel(default="They all matter.")
    ranking = await rank_files(chat(broken), problem="p", scores=scores, max_fixes=0)
    assert ranking.paths == ("b.py", "a.py") and not ranking.from_model
    assert ranking.error is not None and "no known file paths" in ranking.error
    unused = ScriptedModel()
    single = await rank_files(chat(unused), problem="p", scores=scores[:1])
    assert single.paths == ("a.py",) and unused.calls == 0
