"""The context stage's model calls: score one file's relevance, rank the relevant files.

One :func:`score_file` call per non-test source file, shared by every sample of a problem;
the caller (the coordinator) fans these out under its LLM limit, as it does all fan-out.
:func:`rank_files` orders the files that scored at or above the threshold, and
:func:`build_context` packs them, best first, to the token budget. A reply that never parses
does not fail the stage: the file scores 0 (and is left out), or the ranking falls back to
score order, and the reason is kept on the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentlab.agent.chat import Chat, ask
from agentlab.agent.context import PackedContext, pack_context, parse_ranking, parse_relevance
from agentlab.agent.prompts import RANKING, RELEVANCE
from agentlab.agent.replies import FormatFailure
from agentlab.types import Record


class FileScore(Record):
    """The relevance of one file to one problem (0..1), and the note the model gave."""

    path: str
    score: float
    note: str = ""
    error: str | None = None


class Ranking(Record):
    """Relevant files, most important first, and whether the model's ranking was used."""

    paths: tuple[str, ...]
    from_model: bool
    error: str | None = None


async def score_file(
    chat: Chat, *, problem: str, path: str, content: str, max_fixes: int = 1
) -> FileScore:
    """Ask the relevance model how much ``path`` matters for ``problem``."""
    messages = RELEVANCE.render(problem=problem, path=path, content=content)
    result, _ = await ask(
        chat, messages, parse_relevance, stage="relevance", step=0, max_fixes=max_fixes
    )
    if isinstance(result, FormatFailure):
        return FileScore(path=path, score=0.0, error=result.reason)
    note = result.reply.strip().splitlines()[0] if result.reply.strip() else ""
    return FileScore(path=path, score=result.value, note=note[:300])


def relevant(scores: Sequence[FileScore], threshold: float) -> list[FileScore]:
    """Files at or above ``threshold``, best first (ties by path, so the order is stable)."""
    kept = [s for s in scores if s.score >= threshold]
    return sorted(kept, key=lambda s: (-s.score, s.path))


async def rank_files(
    chat: Chat,
    *,
    problem: str,
    scores: Sequence[FileScore],
    threshold: float = 0.5,
    max_files: int = 20,
    max_fixes: int = 1,
) -> Ranking:
    """Order the relevant files with the ranking model (falling back to score order)."""
    candidates = relevant(scores, threshold)[:max_files]
    by_score = tuple(s.path for s in candidates)
    if len(candidates) <= 1:
        return Ranking(paths=by_score, from_model=False)
    listing = "\n".join(f"- {s.path}: {s.note}" for s in candidates)
    messages = RANKING.render(problem=problem, files=listing)
    known = set(by_score)
    result, _ = await ask(
        chat,
        messages,
        lambda text: parse_ranking(text, known),
        stage="ranking",
        step=0,
        max_fixes=max_fixes,
    )
    if isinstance(result, FormatFailure):
        return Ranking(paths=by_score, from_model=False, error=result.reason)
    # Files the model left out still follow, in score order: dropping them is packing's job.
    ranked = [*result.value, *(p for p in by_score if p not in result.value)]
    return Ranking(paths=tuple(ranked), from_model=True)


def build_context(ranking: Ranking, files: Mapping[str, str], budget_tokens: int) -> PackedContext:
    """Pack the ranked files' contents to ``budget_tokens``."""
    return pack_context([(p, files[p]) for p in ranking.paths if p in files], budget_tokens)
