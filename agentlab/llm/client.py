"""The client wrapper: everything cross-cutting about an LLM call lives here, once.

For each call, in order: replay from the response cache if this exact request and sample
index was answered before (unless the client bypasses replays); for each attempt, reserve its
worst-case cost against the hard budget (the run's cap and the problem's), take a slot from the
endpoint's adaptive concurrency limit, send through the backend, and settle the attempt;
retry 429s, 5xx, timeouts and connection errors with jittered exponential backoff (honouring
Retry-After, bounded by attempts and total time); store the response; record one row.
Fatal and malformed replies fail at once and are never cached.

Settle rules (what the ledger is charged for one attempt): a reply's usage at the endpoint's
price; a refusal the provider reports before doing any work (HTTP 429, 400/401/403/404) $0;
anything else that reports no usage (5xx, timeout, dropped connection, malformed reply,
cancellation in flight) the attempt's whole reservation, because the provider may have
billed it and we cannot know for how much. Never less than the provider can bill.

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
    FatalLLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.llm.budget import BudgetLedger, prompt_token_ceiling
from agentlab.llm.config import LimitConfig, RetryConfig
from agentlab.llm.limiter import AdaptiveLimiter
from agentlab.llm.pricing import FREE, ApiPrice, CpuPrice, GpuPrice
from agentlab.protocols import CallRecorder, ChatBackend, ResponseCache
from agentlab.types import CallContext, ChatRequest, ChatResponse, Cost, Message


def request_key(request: ChatRequest, sample: int) -> str:
    """sha256 of the canonical request plus the sample index: the cache key."""
    payload = request.model_dump(mode="json")
    payload.pop("cache_prefix", None)  # billing only: the same request either way
    payload["sample"] = sample
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Tally:
    attempts: int = 0
    charged_usd: float = 0.0  # settled for attempts that brought no usable reply


def billed_on_failure(exc: BaseException) -> bool:
    """Whether an attempt that ended in ``exc`` may have been billed by the provider.

    Only a refusal the provider reports before doing any work is free: a 429, or a 4xx
    rejecting the request itself. Everything else (5xx, timeouts, dropped connections,
    malformed replies, our own cancellation mid-request) may have been processed.
    """
    # A FatalLLMError is a 4xx rejection, or raised here before anything was sent.
    return not isinstance(exc, (RateLimitedError, FatalLLMError))


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
        prompt_per_sample: bool = False,
        replay: bool = True,
    ) -> None:
        """``prompt_per_sample``: the provider bills the prompt once per sample (no ``n``).
        ``replay=False`` never answers from the cache (responses are still stored)."""
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
        self.prompt_per_sample = prompt_per_sample
        self.replay = replay
        # Mark every request's prefix cacheable (the run sets it: on for k > 1 samples).
        self.cache_prefix = False

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
        if self.cache_prefix and not request.cache_prefix:
            request = request.model_copy(update={"cache_prefix": True})
        # Hashing the request costs CPU on the hot path; skip it when nothing reads the key.
        needs_key = self.cache is not None or self.recorder is not None
        key = request_key(request, context.sample) if needs_key else ""
        if self.cache is not None and self.replay:
            hit = await self.cache.get(key)
            if hit is not None:
                hit = hit.model_copy(update={"latency_s": 0.0})  # a replay takes no model time
                # Billed nothing now; what the answer cost when it was made stays on the row.
                original = self.price.cost(hit.usage).usd
                await self._record(context, request, key, hit, Cost(), 0, True, None, original)
                return hit
        tally = _Tally()
        response: ChatResponse | None = None
        cost = Cost()
        error: str | None = None
        try:
            response = await self._with_retries(request, context, tally)
            cost = self.price.cost(response.usage)
        except BaseException as exc:  # recorded (cancellation included), then re-raised
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise
        finally:
            if tally.charged_usd:
                cost = cost.model_copy(update={"usd": cost.usd + tally.charged_usd})
            await self._record(context, request, key, response, cost, tally.attempts, False, error)
        if self.cache is not None:
            await self.cache.put(key, response)
        return response

    def ceiling_usd(self, request: ChatRequest) -> float:
        """The most one attempt at ``request`` can be billed."""
        prompt = prompt_token_ceiling(request)
        if self.prompt_per_sample:
            prompt *= request.n
        return self.price.ceiling(prompt, request.max_tokens * request.n)

    async def _with_retries(
        self, request: ChatRequest, context: CallContext, tally: _Tally
    ) -> ChatResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry.max_total_s
        ceiling = self.ceiling_usd(request)
        while True:
            # Each attempt holds its own worst case: a retry may be billed as well.
            reservation = self.ledger.reserve(
                ceiling, what=f"{self.endpoint} call", scope=context.task_id
            )
            tally.attempts += 1
            try:
                async with self.limiter.slot():
                    response = await self._once(request)
            except BaseException as exc:
                charge = reservation.usd if billed_on_failure(exc) else 0.0
                self.ledger.settle(reservation, charge)
                tally.charged_usd += charge
                if not isinstance(exc, RetryableLLMError):
                    raise
                if isinstance(exc, RateLimitedError):
                    self.limiter.on_rate_limited()
                delay = self._backoff(tally.attempts, exc.retry_after)
                if tally.attempts >= self.retry.max_attempts or loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                continue
            self.ledger.settle(reservation, self.price.cost(response.usage).usd)
            self.limiter.on_success()
            return response

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
        replayed_usd: float = 0.0,
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
            replayed_usd=replayed_usd,
        )

    async def aclose(self) -> None:
        """Close the backend."""
        await self.backend.aclose()
