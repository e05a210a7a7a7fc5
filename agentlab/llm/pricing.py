"""The pricing table (``configs/pricing.yaml``) and what one call costs.

Three kinds of price, told apart by ``kind``:

- ``api``: dollars per million input, output, cache-read and cache-write tokens;
- ``gpu``: a self-hosted endpoint, priced as ``gpus`` GPUs at ``gpu_hour_usd`` each serving
  ``tokens_per_s`` tokens per second in aggregate (a call's share is its tokens over that rate);
- ``cpu``: the local model, the same idea at a CPU-hour price.

A ``gpu``/``cpu`` price's ``tokens_per_s`` is the fallback: when the store holds a throughput
profile of the endpoint, the run's wiring (``agentlab.coordinator.prices``) replaces it with the
profile's measured rate at the run's concurrency (:func:`rate_at`), unless the entry says
``from_profile: false``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentlab.errors import ConfigError
from agentlab.types import Cost, Usage

_M = 1_000_000


class _Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiPrice(_Price):
    kind: Literal["api"] = "api"
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_per_mtok: float | None = Field(
        None, ge=0, description="Prompt-cache reads; defaults to the input price."
    )
    cache_write_per_mtok: float | None = Field(
        None,
        ge=0,
        description="Prompt-cache writes (Anthropic: 1.25x input for the 5-minute cache);"
        " defaults to the input price (no premium, as for OpenAI's automatic cache).",
    )

    def cost(self, usage: Usage) -> Cost:
        """Fresh input, cache reads, cache writes and output, each at its own rate."""
        cached_rate = self.input_per_mtok if self.cached_per_mtok is None else self.cached_per_mtok
        write_rate = (
            self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        )
        read, written = usage.cached_prompt_tokens, usage.cache_write_tokens
        fresh = max(usage.prompt_tokens - read - written, 0)
        inp = fresh * self.input_per_mtok / _M
        cached = read * cached_rate / _M
        write = written * write_rate / _M
        out = usage.completion_tokens * self.output_per_mtok / _M
        # saved = reads x (input - read price) - writes x (write price - input)
        saved = (
            read * (self.input_per_mtok - cached_rate)
            - written * (write_rate - self.input_per_mtok)
        ) / _M
        return Cost(
            usd=inp + cached + write + out,
            input_usd=inp,
            output_usd=out,
            cached_usd=cached,
            cache_write_usd=write,
            cache_saved_usd=saved,
        )

    def ceiling(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The most a call of this size can cost (every prompt token a cache write, if that
        is the dearest way to bill it)."""
        prompt_rate = max(self.input_per_mtok, self.cache_write_per_mtok or 0.0)
        return (prompt_tokens * prompt_rate + completion_tokens * self.output_per_mtok) / _M


class _Throughput(_Price):
    tokens_per_s: float | None = Field(
        None,
        gt=0,
        description="Aggregate tokens/s of the server: the fallback when the store holds no"
        " profile of the endpoint (needed then).",
    )
    from_profile: bool = Field(
        True,
        description="Use the endpoint's stored throughput profile when there is one; false"
        " makes tokens_per_s here an explicit override.",
    )

    @model_validator(mode="after")
    def _override_has_rate(self) -> _Throughput:
        if not self.from_profile and self.tokens_per_s is None:
            raise ValueError("from_profile: false needs tokens_per_s")
        return self

    def _hourly(self) -> float:
        raise NotImplementedError

    def _gpus(self) -> int:
        return 0

    def _seconds(self, tokens: int) -> float:
        if self.tokens_per_s is None:
            raise ConfigError(
                "a gpu/cpu price has no tokens_per_s and the endpoint has no stored profile: "
                "run `agentlab budget profile` on it, or set tokens_per_s in pricing.yaml"
            )
        return tokens / self.tokens_per_s

    def cost(self, usage: Usage) -> Cost:
        seconds = self._seconds(usage.prompt_tokens + usage.completion_tokens)
        usd = seconds * self._hourly() / 3600
        return Cost(usd=usd, gpu_seconds=seconds * self._gpus())

    def ceiling(self, prompt_tokens: int, completion_tokens: int) -> float:
        return self._seconds(prompt_tokens + completion_tokens) * self._hourly() / 3600


class GpuPrice(_Throughput):
    kind: Literal["gpu"] = "gpu"
    gpu_hour_usd: float = Field(ge=0)
    gpus: int = Field(1, ge=1)

    def _hourly(self) -> float:
        return self.gpu_hour_usd * self.gpus

    def _gpus(self) -> int:
        return self.gpus


class CpuPrice(_Throughput):
    kind: Literal["cpu"] = "cpu"
    cpu_hour_usd: float = Field(ge=0)
    cpus: int = Field(1, ge=1)

    def _hourly(self) -> float:
        return self.cpu_hour_usd * self.cpus


ModelPrice = Annotated[ApiPrice | GpuPrice | CpuPrice, Field(discriminator="kind")]
FREE = ApiPrice(input_per_mtok=0, output_per_mtok=0)


class PricingTable(BaseModel):
    """A versioned table of prices by model (or endpoint) name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    currency: Literal["USD"] = "USD"
    models: dict[str, ModelPrice]
    sandbox_cpu_hour_usd: float | None = Field(
        None,
        ge=0,
        description="Price of one CPU reserved by a sandbox for one hour; sandbox time is"
        " charged to the run's ledger at this rate (None = not charged).",
    )

    def price(self, key: str) -> ApiPrice | GpuPrice | CpuPrice:
        """The price for ``key``; ConfigError naming the key when it is missing."""
        try:
            return self.models[key]
        except KeyError:
            raise ConfigError(
                f"pricing {self.version}: no price for {key!r}; add it under `models:` in "
                "pricing.yaml or set `price:` on the endpoint to an existing entry"
            ) from None


def load_pricing(path: str | Path) -> PricingTable:
    """Load and validate a pricing YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
        return PricingTable.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"pricing file {path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"pricing file {path}: not valid YAML ({' '.join(str(exc).split())})"
        ) from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise ConfigError(f"pricing file {path}: {where}: {err['msg']}") from exc


class _Priced(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def price_key(self) -> str: ...


def default_pricing_path() -> Path | None:
    """``$AGENTLAB_PRICING``, else ``configs/pricing.yaml`` in the working directory, else the
    one in the source checkout this package runs from (an editable install)."""
    env = os.environ.get("AGENTLAB_PRICING")
    if env:
        return Path(env)
    for candidate in (
        Path("configs/pricing.yaml"),
        Path(__file__).resolve().parents[2] / "configs" / "pricing.yaml",
    ):
        if candidate.is_file():
            return candidate
    return None


def price_for(endpoint: _Priced, table: PricingTable | None) -> ApiPrice | GpuPrice | CpuPrice:
    """What ``endpoint``'s calls cost. A real endpoint is never silently free.

    Scripted endpoints cost nothing unless the table prices them; every other endpoint needs
    a price from the table, and with no table at all that is a ConfigError saying how to get one.
    """
    if endpoint.type == "scripted":
        return FREE if table is None else table.models.get(endpoint.price_key, FREE)
    if table is None:
        raise ConfigError(
            f"endpoint model {endpoint.price_key!r} has no pricing table, so its spend could not "
            "be counted: set AGENTLAB_PRICING (or --pricing) to a pricing.yaml, e.g. the "
            "repository's configs/pricing.yaml"
        )
    return table.price(endpoint.price_key)


@dataclass(frozen=True)
class Rate:
    """The throughput a run is priced at: measured at ``level`` (scaled down to the run's
    concurrency when every measured level is above it)."""

    level: int
    tokens_per_s: float
    scaled: bool = False


def rate_at(levels: Sequence[tuple[int, float]], concurrency: int) -> Rate | None:
    """The measured throughput to price a run at ``concurrency`` with.

    The highest measured level not above ``concurrency``: aggregate throughput grows with
    concurrency, so a lower level's rate never understates the cost. If every level is above
    it, the lowest level's rate scaled by ``concurrency / level`` (per-request speed only drops
    as concurrency rises, so this too is a lower bound). Levels that produced no tokens are
    ignored; None when none did.
    """
    useful = sorted((c, tps) for c, tps in levels if tps > 0)
    if not useful:
        return None
    below = [lv for lv in useful if lv[0] <= concurrency]
    if below:
        return Rate(*below[-1])
    level, tps = useful[0]
    return Rate(level, tps * max(concurrency, 1) / level, scaled=True)
