"""Throughput of one endpoint at several concurrency levels, measured through the client.

For each level ``c``, ``c`` workers send ``requests`` chat requests between them, each worker
starting its next request as soon as its last one returns, so exactly ``c`` are in flight until
the queue drains. The level's wall time runs from the first send to the last reply, which gives
aggregate completion tokens/s and requests/s; per-request latency (retries included) gives p50
and p90. A failed request counts as an error and adds no tokens.

Requests go through :class:`LLMClient` (its retries and adaptive limit), with no cache (a
profile must reach the server) and price ``FREE`` (profiling is billed to no run). The client's
limit is raised to the highest level, so the workers, not the limiter, set the concurrency; a
429 still halves it. One request is sent first as a warm-up, outside any measurement: it opens
a connection and loads a lazily started model, and if it fails the endpoint is unusable and its
error is raised as is. This module does no I/O of its own besides the requests (no store).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentlab.errors import ConfigError, LLMError
from agentlab.llm.client import LLMClient
from agentlab.llm.config import EndpointConfig, LimitConfig
from agentlab.llm.factory import open_client
from agentlab.llm.pricing import FREE
from agentlab.types import ChatRequest, Message

PROMPT = (
    "Write a long, detailed story about a lighthouse keeper who repairs clocks. "
    "Keep writing until you are stopped. (request {i})"
)


@dataclass(frozen=True)
class LevelResult:
    """One concurrency level's measurement."""

    concurrency: int
    requests: int  # requests that succeeded
    errors: int
    completion_tokens: int
    seconds: float  # wall time from the first send to the last reply
    p50_s: float
    p90_s: float

    @property
    def tokens_per_s(self) -> float:
        """Aggregate completion tokens per second over the level's wall time."""
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        """Successful requests per second over the level's wall time."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, linearly interpolated; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def parse_levels(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)``; each level a positive integer, sorted and deduplicated."""
    try:
        levels = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise ConfigError(
            f"--levels {text!r}: use comma-separated positive integers, e.g. 1,2,4,8"
        ) from exc
    if not levels or levels[0] < 1:
        raise ConfigError(f"--levels {text!r}: use comma-separated positive integers, e.g. 1,2,4")
    return tuple(levels)


def _request(tag: str, max_tokens: int, prompt: str) -> ChatRequest:
    # A distinct prompt per request, so no server-side response cache can answer it.
    return ChatRequest(
        model="",  # the client fills in its endpoint's model
        messages=(Message(role="user", content=prompt.replace("{i}", tag)),),
        max_tokens=max_tokens,
    )


async def measure_level(
    client: LLMClient,
    concurrency: int,
    requests: int,
    *,
    max_tokens: int = 256,
    prompt: str = PROMPT,
) -> LevelResult:
    """Send ``requests`` requests through ``client`` with ``concurrency`` in flight; measure."""
    latencies: list[float] = []
    tokens = 0
    errors = 0
    queue = iter(range(requests))  # shared by the workers; next() is atomic on one loop

    async def worker() -> None:
        nonlocal tokens, errors
        for i in queue:
            started = time.perf_counter()
            try:
                response = await client.generate(_request(f"{concurrency}.{i}", max_tokens, prompt))
            except LLMError:
                errors += 1  # already retried by the client: this request is lost
                continue
            latencies.append(time.perf_counter() - started)
            tokens += response.usage.completion_tokens

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, requests)):
            group.create_task(worker())
    seconds = time.perf_counter() - started
    return LevelResult(
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        completion_tokens=tokens,
        seconds=seconds,
        p50_s=percentile(latencies, 0.5),
        p90_s=percentile(latencies, 0.9),
    )


async def profile_endpoint(
    config: EndpointConfig,
    levels: Sequence[int],
    *,
    requests_per_level: int,
    max_tokens: int = 256,
    prompt: str = PROMPT,
    on_level: Callable[[LevelResult], None] | None = None,
) -> list[LevelResult]:
    """Measure ``config`` at each level in ``levels`` (see the module docstring)."""
    if requests_per_level < 1 or max_tokens < 1:
        raise ConfigError("--requests-per-level and --max-tokens must be >= 1")
    top = max(levels)
    limits = LimitConfig(initial=top, min=1, max=max(top, config.limits.max))
    config = config.model_copy(update={"limits": limits})
    results: list[LevelResult] = []
    async with open_client(config, price=FREE) as client:
        await client.generate(
            _request("warm-up", max_tokens, prompt)
        )  # warm-up; raises if unusable
        for level in levels:
            result = await measure_level(
                client, level, requests_per_level, max_tokens=max_tokens, prompt=prompt
            )
            results.append(result)
            if on_level is not None:
                on_level(result)
    return results


def best_tokens_per_s(results: Sequence[LevelResult]) -> LevelResult | None:
    """The level with the highest aggregate tokens/s (None if nothing succeeded)."""
    useful = [r for r in results if r.completion_tokens > 0]
    return max(useful, key=lambda r: r.tokens_per_s) if useful else None
