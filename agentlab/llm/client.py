"""The client wrapper: everything cross-cutting about an LLM call lives here, once.

For each call, in order: replay from the response cache if this exact request and sample
index was answered before; reserve the call's worst-case cost against the hard budget; take
a slot from the endpoint's adaptive concurrency limit; send through the backend, retrying
429s, 5xx, timeouts and connection errors with jittered exponential backoff (honouring
Retry-After, bounded by attempts and total time); settle the real cost; store the response;
record one row. Fatal and malformed replies fail at once and are never cached.

Backends do exactly one request (see :class:`agentlab.protocols.ChatBackend`); the cache and
the recorder are protocols too, so this package never imports the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass

from agentlab.errors import (
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.llm.budget import BudgetLedger, Reservation, prompt_token_ceiling
from agentlab.llm.config import LimitConfig, RetryConfig
from agentlab.llm.limiter import AdaptiveLimiter
from agentlab.llm.pricing import FREE, ApiPrice, CpuPrice, GpuPrice
from agentlab.protocols import CallRecorder, ChatBackend, ResponseCache
from agentlab.types import CallContext, ChatRequest, ChatResponse, Cost, Message


def request_key(request: ChatRequest, sample: int) -> str:
    """sha256 of the canonical request plus the sample index: the cache key."""
    payload = request.model_dump(mode="json")
    payload["sample"] = sample
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Tally:
    attempts: int = 0


class LLMClient:
    """Wraps one endpoint's backend with limits, retries, cache, cost, budget and recording."""

    def __init__(
        self,
        backend: ChatBackend,
        *,
        model: str = "",
        endpoint: str | None = None,
        price: ApiPrice | GpuPrice | CpuPrice = FREE,
        limits: LimitConfig | None = None,
        retry: RetryConfig | None = None,
        timeout_s: float = 120.0,
        ledger: BudgetLedger | None = None,
        cache: ResponseCache | None = None,
        recorder: CallRecorder | None = None,
        seed: int | None = None,
    ) -> None:
        self.backend = backend
        self.model = model
        self.endpoint = endpoint or backend.name
        self.price = price
        self.limiter = AdaptiveLimiter(limits or LimitConfig())
        self.retry = retry or RetryConfig()
        self.timeout_s = timeout_s
        self.ledger = ledger or BudgetLedger(None)
        self.cache = cache
        self.recorder = recorder
        self._rng = random.Random(seed)

    async def chat(
        self, messages: list[Message], *, context: CallContext | None = None, **params: object
    ) -> ChatResponse:
        """Convenience: build a :class:`ChatRequest` for this endpoint's model and send it."""
        request = ChatRequest.model_validate({"model": self.model, "messages": messages, **params})
        return await self.generate(request, context)

    async def generate(
        self, request: ChatRequest, context: CallContext | None = None
    ) -> ChatResponse:
        """Answer ``request`` for ``context`` (cached, budgeted, retried, recorded)."""
        context = context or CallContext()
        if not request.model:
            request = request.model_copy(update={"model": self.model})
        # Hashing the request costs CPU on the hot path; skip it when nothing reads the key.
        needs_key = self.cache is not None or self.recorder is not None
        key = request_key(request, context.sample) if needs_key else ""
        if self.cache is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                hit = hit.model_copy(update={"latency_s": 0.0})  # a replay takes no model time
                await self._record(context, request, key, hit, Cost(), 0, True, None)
                return hit
        reservation = await self._reserve(request, context, key)
        tally = _Tally()
        response: ChatResponse | None = None
        cost = Cost()
        error: str | None = None
        try:
            response = await self._with_retries(request, tally)
            cost = self.price.cost(response.usage)
        except BaseException as exc:  # recorded (cancellation included), then re-raised
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise
        finally:
            self.ledger.settle(reservation, cost.usd)
            await self._record(context, request, key, response, cost, tally.attempts, False, error)
        if self.cache is not None:
            await self.cache.put(key, response)
        return response

    async def _reserve(self, request: ChatRequest, context: CallContext, key: str) -> Reservation:
        ceiling = self.price.ceiling(prompt_token_ceiling(request), request.max_tokens * request.n)
        try:
            return self.ledger.reserve(ceiling, what=f"{self.endpoint} call")
        except Exception as exc:
            await self._record(
                context, request, key, None, Cost(), 0, False, f"{type(exc).__name__}: {exc}"
            )
            raise

    async def _with_retries(self, request: ChatRequest, tally: _Tally) -> ChatResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry.max_total_s
        while True:
            tally.attempts += 1
            try:
                async with self.limiter.slot():
                    response = await self._once(request)
                self.limiter.on_success()
                return response
            except RetryableLLMError as exc:
                if isinstance(exc, RateLimitedError):
                    self.limiter.on_rate_limited()
                delay = self._backoff(tally.attempts, exc.retry_after)
                if tally.attempts >= self.retry.max_attempts or loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)

    async def _once(self, request: ChatRequest) -> ChatResponse:
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.backend.generate(request)
        except TimeoutError as exc:
            if isinstance(exc, LLMTimeoutError):
                raise
            raise LLMTimeoutError(
                f"endpoint {self.endpoint}: no answer within {self.timeout_s:g}s",
                endpoint=self.endpoint,
            ) from exc
        if not response.choices:
            raise MalformedResponseError(f"endpoint {self.endpoint}: reply has no choices")
        return response

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # Never earlier than asked; a little later, so retries from many calls spread out.
            return retry_after * self._rng.uniform(1.0, 1.1)
        ceiling = min(self.retry.backoff_max_s, self.retry.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def _record(
        self,
        context: CallContext,
        request: ChatRequest,
        key: str,
        response: ChatResponse | None,
        cost: Cost,
        attempts: int,
        cache_hit: bool,
        error: str | None,
    ) -> None:
        if self.recorder is None:
            return
        await self.recorder.record_call(
            context=context,
            endpoint=self.endpoint,
            model=request.model,
            request_hash=key,
            response=response,
            cost=cost,
            attempts=attempts,
            cache_hit=cache_hit,
            error=error,
        )

    async def aclose(self) -> None:
        """Close the backend."""
        await self.backend.aclose()
