"""Which price each endpoint of a run is billed at, and where that price came from.

An ``api`` price is pricing.yaml's. A ``gpu``/``cpu`` price is dollars per hour over the
server's aggregate tokens/s; that rate comes from the newest throughput profile the store holds
for the same endpoint name and model (``agentlab budget profile``), read at the concurrency the
run will use (:func:`agentlab.llm.pricing.rate_at`), and from pricing.yaml's ``tokens_per_s``
only when there is no profile or the entry sets ``from_profile: false``. Every resolution
carries a one-line note saying which, stored per run in ``endpoint_price``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from agentlab.errors import ConfigError
from agentlab.llm import EndpointConfig
from agentlab.llm.pricing import (
    ApiPrice,
    CpuPrice,
    GpuPrice,
    PricingTable,
    price_for,
    rate_at,
)
from agentlab.store.db import Store
from agentlab.store.profile_store import (
    EndpointPrice,
    endpoint_prices,
    profile_levels,
    save_endpoint_prices,
)

Price = ApiPrice | GpuPrice | CpuPrice
# (endpoint name, model) -> (profile run id, [(concurrency, tokens/s)]) or None
ProfileLookup = Callable[[str, str], tuple[str, list[tuple[int, float]]] | None]


@dataclass(frozen=True)
class ResolvedPrice:
    """One endpoint's price and its provenance."""

    endpoint: str
    model: str
    price: Price
    source: str  # profile | pricing.yaml | free
    note: str
    profile_run_id: str | None = None
    concurrency: int | None = None
    level: int | None = None

    def row(self, run_id: str) -> EndpointPrice:
        """The ``endpoint_price`` row for ``run_id``."""
        tps = self.price.tokens_per_s if isinstance(self.price, GpuPrice | CpuPrice) else None
        return EndpointPrice(
            run_id=run_id,
            endpoint=self.endpoint,
            model=self.model,
            kind=self.price.kind,
            source=self.source,
            profile_run_id=self.profile_run_id,
            concurrency=self.concurrency,
            level=self.level,
            tokens_per_s=tps,
            note=self.note,
        )


def store_profiles(store: Store) -> ProfileLookup:
    """Profiles as the store holds them."""
    return lambda endpoint, model: profile_levels(store, endpoint, model)


def endpoint_concurrency(endpoint: EndpointConfig, llm_calls: int) -> int:
    """Calls one endpoint can have in flight in a run: the run's LLM limit, capped by the
    endpoint's own adaptive limit."""
    return max(1, min(llm_calls, endpoint.limits.max))


def resolve_price(
    endpoint: EndpointConfig,
    table: PricingTable | None,
    *,
    concurrency: int,
    profiles: ProfileLookup | None,
) -> ResolvedPrice:
    """``endpoint``'s price at ``concurrency`` calls in flight (see the module docstring)."""
    name, model = endpoint.name, endpoint.model
    if table is None or (endpoint.type == "scripted" and endpoint.price_key not in table.models):
        price = price_for(endpoint, table)  # free scripted model, or the missing-table error
        return ResolvedPrice(name, model, price, "free", "scripted model, not priced")
    base = price_for(endpoint, table)
    where = f"pricing.yaml {table.version} entry {endpoint.price_key!r}"
    if isinstance(base, ApiPrice):
        return ResolvedPrice(name, model, base, "pricing.yaml", f"price from {where}")
    found = profiles(name, model) if profiles is not None else None
    rate = rate_at(found[1], concurrency) if found is not None else None
    if found is None or rate is None or not base.from_profile:
        if base.tokens_per_s is None:
            raise ConfigError(
                f"endpoint {name!r} ({model}): {where} has no tokens_per_s and the store holds "
                "no profile of it; run `agentlab budget profile` on it (same store) or set "
                "tokens_per_s"
            )
        why = (
            "from_profile: false"
            if not base.from_profile
            else "no stored profile of this endpoint and model"
        )
        note = f"price from {where} at {base.tokens_per_s:g} tok/s ({why})"
        return ResolvedPrice(name, model, base, "pricing.yaml", note, concurrency=concurrency)
    run_id = found[0]
    how = (
        f"level {rate.level} scaled to {concurrency}"
        if rate.scaled
        else f"measured level {rate.level}"
    )
    note = (
        f"price from profile {run_id} at concurrency {concurrency} ({how}): "
        f"{rate.tokens_per_s:.1f} tok/s, dollars per hour from {where}"
    )
    price = base.model_copy(update={"tokens_per_s": rate.tokens_per_s})
    return ResolvedPrice(
        name, model, price, "profile", note, run_id, concurrency=concurrency, level=rate.level
    )


def resolve_prices(
    endpoints: Mapping[str, EndpointConfig],
    names: Iterable[str],
    table: PricingTable | None,
    *,
    llm_calls: int,
    profiles: ProfileLookup | None,
) -> dict[str, ResolvedPrice]:
    """:func:`resolve_price` for each endpoint in ``names``."""
    return {
        name: resolve_price(
            endpoints[name],
            table,
            concurrency=endpoint_concurrency(endpoints[name], llm_calls),
            profiles=profiles,
        )
        for name in names
    }


def record_prices(store: Store, run_id: str, prices: Mapping[str, ResolvedPrice]) -> None:
    """Store where each of the run's prices came from (replacing an earlier invocation's)."""
    save_endpoint_prices(store, run_id, [p.row(run_id) for p in prices.values()])


def stored_prices(
    store: Store,
    run_id: str,
    endpoints: Mapping[str, EndpointConfig],
    names: Iterable[str],
    table: PricingTable | None,
) -> dict[str, Price]:
    """The prices the run's driver resolved and stored, for a remote worker of that run: the
    same profile rate even if a newer profile was stored since the run started."""
    fed = {
        row.endpoint: row.tokens_per_s
        for row in endpoint_prices(store, run_id)
        if row.source == "profile" and row.tokens_per_s
    }
    out: dict[str, Price] = {}
    for name in names:
        price = price_for(endpoints[name], table)
        if name in fed and isinstance(price, GpuPrice | CpuPrice):
            price = price.model_copy(update={"tokens_per_s": fed[name]})
        out[name] = price
    return out


__all__ = [
    "ProfileLookup",
    "ResolvedPrice",
    "endpoint_concurrency",
    "record_prices",
    "resolve_price",
    "resolve_prices",
    "store_profiles",
    "stored_prices",
]
