"""The store-backed cache and call recorder, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from sqlmodel import select

from agentlab.store import open_store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.tables import LLMCall, Run
from agentlab.types import CallContext, ChatResponse, Choice, Cost, TokenLogprob, Usage
from tests.store.conftest import store_url  # noqa: F401  (the SQLite + Postgres fixture)

RESPONSE = ChatResponse(
    model="m",
    choices=(
        Choice(
            text="x = 1",
            finish_reason="stop",
            logprobs=(TokenLogprob(token="x", logprob=-0.1, top=(("x", -0.1),)),),
        ),
    ),
    usage=Usage(prompt_tokens=10, completion_tokens=3, cached_prompt_tokens=4),
    latency_s=0.5,
)


async def test_cache_round_trips_a_response(store_url: str) -> None:  # noqa: F811
    store = open_store(store_url)
    try:
        cache = StoreResponseCache(store)
        assert await cache.get("k" * 64) is None
        await cache.put("k" * 64, RESPONSE)
        await cache.put("k" * 64, RESPONSE)  # a concurrent duplicate overwrites, no error
        assert await cache.get("k" * 64) == RESPONSE
    finally:
        store.close()


async def test_recorder_writes_one_row_per_call(store_url: str) -> None:  # noqa: F811
    store = open_store(store_url)
    try:
        store.call(lambda s: s.add(Run(id="r1", kind="run")))
        recorder = StoreCallRecorder(store)
        common = {"endpoint": "e", "model": "m", "request_hash": "h" * 64}
        await recorder.record_call(
            context=CallContext(run_id="r1", role="edit", task_id="t", sample=2, step=3),
            response=RESPONSE,
            cost=Cost(usd=0.25, gpu_seconds=1.5),
            attempts=2,
            cache_hit=False,
            error=None,
            **common,
        )
        await recorder.record_call(
            context=CallContext(),
            response=None,
            cost=Cost(),
            attempts=0,
            cache_hit=False,
            error="BudgetExceededError: cap",
            **common,
        )
        rows = store.call(lambda s: list(s.exec(select(LLMCall).order_by(LLMCall.id)).all()))
    finally:
        store.close()
    ok, refused = rows
    assert (ok.run_id, ok.role, ok.task_id, ok.sample, ok.step) == ("r1", "edit", "t", 2, 3)
    assert (ok.prompt_tokens, ok.completion_tokens, ok.cached_prompt_tokens) == (10, 3, 4)
    assert (ok.usd, ok.gpu_seconds, ok.latency_s, ok.attempts) == (0.25, 1.5, 0.5, 2)
    assert refused.run_id is None and refused.error == "BudgetExceededError: cap"
