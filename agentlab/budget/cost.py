"""The cost model: API tokens, self-hosted GPU time, sandbox CPU time; spend breakdowns.

Prices are plain numbers here (USD per million tokens, per GPU-hour, per CPU-hour), so the
model does not depend on where they are configured. A self-hosted endpoint is priced by the
GPU time its tokens take at the measured throughput: ``usd/token = $/GPU-h * GPUs / 3600 /
tokens_per_s`` (e.g. 8 GPUs at 9,051 tokens/s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from agentlab.errors import ConfigError
from agentlab.types import Cost, Usage


@dataclass(frozen=True)
class TokenPrices:
    """API prices in USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None  # cache reads; defaults to the input price
    cache_write_per_mtok: float | None = None  # cache writes; defaults to the input price

    def price(self, usage: Usage) -> Cost:
        """What one call's usage costs; prompt-cache reads and writes at their own rates."""
        inp = self.input_per_mtok
        read_rate = inp if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        write_rate = inp if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        read, written = usage.cached_prompt_tokens, usage.cache_write_tokens
        fresh = max(usage.prompt_tokens - read - written, 0)
        input_usd = fresh * inp / 1e6
        cached_usd = read * read_rate / 1e6
        write_usd = written * write_rate / 1e6
        output_usd = usage.completion_tokens * self.output_per_mtok / 1e6
        return Cost(
            usd=input_usd + cached_usd + write_usd + output_usd,
            input_usd=input_usd,
            output_usd=output_usd,
            cached_usd=cached_usd,
            cache_write_usd=write_usd,
            cache_saved_usd=(read * (inp - read_rate) - written * (write_rate - inp)) / 1e6,
        )


@dataclass(frozen=True)
class SelfHosted:
    """A self-hosted endpoint: GPU rental price, GPU count, measured tokens per second."""

    usd_per_gpu_hour: float
    gpus: int
    tokens_per_s: float

    def __post_init__(self) -> None:
        if self.tokens_per_s <= 0 or self.gpus < 1 or self.usd_per_gpu_hour < 0:
            raise ConfigError("self-hosted pricing needs tokens_per_s > 0, gpus >= 1, price >= 0")

    @property
    def usd_per_token(self) -> float:
        return self.usd_per_gpu_hour * self.gpus / 3600.0 / self.tokens_per_s

    def price(self, usage: Usage) -> Cost:
        """GPU time for all tokens processed, prompt and completion alike."""
        tokens = usage.prompt_tokens + usage.completion_tokens
        gpu_seconds = tokens / self.tokens_per_s * self.gpus
        return Cost(usd=tokens * self.usd_per_token, gpu_seconds=gpu_seconds)


@dataclass(frozen=True)
class SandboxPrices:
    """Sandbox compute in USD per CPU-hour."""

    usd_per_cpu_hour: float

    def price(self, cpu_seconds: float) -> Cost:
        return Cost(usd=cpu_seconds * self.usd_per_cpu_hour / 3600.0, sandbox_seconds=cpu_seconds)


@dataclass(frozen=True)
class SpendItem:
    """One priced piece of work, labelled by pipeline stage and role."""

    stage: str
    role: str
    usd: float


@dataclass(frozen=True)
class Breakdown:
    """Spend totals by stage and by role."""

    total: float
    by_stage: dict[str, float]
    by_role: dict[str, float]


def breakdown(items: Iterable[SpendItem]) -> Breakdown:
    """Sum spend by stage and role (keys sorted by spend, largest first)."""
    stages: dict[str, float] = defaultdict(float)
    roles: dict[str, float] = defaultdict(float)
    for item in items:
        stages[item.stage] += item.usd
        roles[item.role] += item.usd
    return Breakdown(
        total=sum(stages.values()),
        by_stage=dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        by_role=dict(sorted(roles.items(), key=lambda kv: -kv[1])),
    )
