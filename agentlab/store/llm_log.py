"""Store-backed implementations of the LLM layer's ``ResponseCache`` and ``CallRecorder``.

The LLM package never imports the store; the composition root hands these to the client.
Responses are stored as JSON under the request hash (``llm_cache``); every call, including
cache hits, refusals and failures, becomes one ``llm_call`` row. Nothing here sees an API key:
the client passes only the request hash, the context, the response and the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from agentlab.store.db import Store
from agentlab.store.tables import LLMCacheEntry, LLMCall
from agentlab.types import CallContext, ChatResponse, Cost


@dataclass(frozen=True)
class CacheTotals:
    """A run's prompt-cache reads and writes (tokens) and what caching saved (USD)."""

    read_tokens: int = 0
    write_tokens: int = 0
    saved_usd: float = 0.0


# The same numbers by hand: see docs/budget.md, "Prompt caching".
def cache_totals(store: Store, run_id: str) -> CacheTotals:
    """Sum ``run_id``'s billed calls (replays from agentlab's own cache left out)."""

    def op(session: Session) -> CacheTotals:
        query = select(
            func.coalesce(func.sum(LLMCall.cached_prompt_tokens), 0),
            func.coalesce(func.sum(LLMCall.cache_write_tokens), 0),
            func.coalesce(func.sum(LLMCall.cache_saved_usd), 0.0),
        ).where(col(LLMCall.run_id) == run_id, col(LLMCall.cache_hit).is_(False))
        read, written, saved = session.exec(query).one()
        return CacheTotals(int(read), int(written), float(saved))

    return store.call(op)


class StoreResponseCache:
    """``ResponseCache`` over the ``llm_cache`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, key: str) -> ChatResponse | None:
        """The stored response for ``key``, or None."""

        def read(session: Session) -> str | None:
            row = session.get(LLMCacheEntry, key)
            return None if row is None else row.response_json

        raw = await self.store.acall(read)
        return None if raw is None else ChatResponse.model_validate_json(raw)

    async def put(self, key: str, response: ChatResponse) -> None:
        """Store ``response`` under ``key`` (last writer wins for concurrent duplicates)."""
        entry = LLMCacheEntry(
            key=key, model=response.model, response_json=response.model_dump_json()
        )

        def write(session: Session) -> None:
            session.merge(entry)

        await self.store.acall(write)


class StoreCallRecorder:
    """``CallRecorder`` writing one ``llm_call`` row per call."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record_call(
        self,
        *,
        context: CallContext,
        endpoint: str,
        model: str,
        request_hash: str,
        response: ChatResponse | None,
        cost: Cost,
        attempts: int,
        cache_hit: bool,
        error: str | None,
        replayed_usd: float = 0.0,
    ) -> None:
        """Insert the row; an empty ``run_id`` is stored as NULL (an ad-hoc call)."""
        usage = response.usage if response is not None else None
        row = LLMCall(
            run_id=context.run_id or None,
            role=context.role,
            task_id=context.task_id,
            sample=context.sample,
            step=context.step,
            endpoint=endpoint,
            model=model,
            request_hash=request_hash,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_prompt_tokens=usage.cached_prompt_tokens if usage else 0,
            cache_write_tokens=usage.cache_write_tokens if usage else 0,
            usd=cost.usd,
            cache_saved_usd=cost.cache_saved_usd,
            gpu_seconds=cost.gpu_seconds,
            latency_s=response.latency_s if response is not None else 0.0,
            attempts=attempts,
            cache_hit=cache_hit,
            replayed_usd=replayed_usd,
            error=error,
        )

        def write(session: Session) -> None:
            session.add(row)

        await self.store.acall(write)
