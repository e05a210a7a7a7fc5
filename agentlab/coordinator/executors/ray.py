"""The Ray executor: each item's attempt runs as a Ray task on a node with sandbox capacity.

The driver stays the one coordinator: it decides which items run (allocation, caps, resume),
fans them out, and owns the run row. Each item's attempt is one Ray task that needs one unit
of the custom resource ``sandbox`` (what a node advertises per sandbox slot); the worker
rebuilds the run's environment from the store URL and run id (cached per worker process and
run session) and writes every step straight to the shared Postgres store. Only a small
:class:`~agentlab.types.WorkResult` crosses the wire back.

One hard cap across the cluster: a :class:`LedgerActor` pinned to the driver's node holds
the run's :class:`~agentlab.llm.budget.BudgetLedger` (with its per-problem scopes); every
worker reserves against it before each LLM call or exec and settles after, through
:class:`RemoteLedger`. Reservations are tagged with the dispatch that made them, so when a
node is lost the driver charges that dispatch's open reservations in full (never less than
the provider may have billed) before it re-dispatches the item.

Ray's own retries are off (``max_retries=0``, ``retry_exceptions=False``): a retried item
resumes from its stored steps under agentlab's idempotent keys instead. Cancellation sends
``ray.cancel(force=False)`` so the remote ``finally`` blocks (container removal, settling)
run. This is the only module that imports ``ray``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from agentlab.config import RayExecutorConfig
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.fanout import fan_out
from agentlab.errors import BudgetExceededError, ConfigError, ScopeBudgetExceededError
from agentlab.llm.budget import BudgetLedger, Reservation
from agentlab.llm.pricing import default_pricing_path
from agentlab.protocols import ItemHandler
from agentlab.types import WorkItem, WorkResult

T = TypeVar("T")
DISPATCHES = 2  # per attempt(): a lost node's item is sent once more, then left for --resume


class LedgerActor:
    """The run's ledger, in one actor: reservations from every node against one cap."""

    def __init__(
        self,
        cap_usd: float | None,
        spent_usd: float,
        scope_cap_usd: float | None,
        scope_spent_usd: dict[str, float],
    ) -> None:
        self.ledger = BudgetLedger(
            cap_usd,
            spent_usd=spent_usd,
            scope_cap_usd=scope_cap_usd,
            scope_spent_usd=scope_spent_usd,
        )
        self.open: dict[int, tuple[str, Reservation]] = {}

    def reserve(self, usd: float, what: str, scope: str, owner: str) -> tuple[Any, ...]:
        """("ok", id) or the refusal as plain data (exceptions with fields do not pickle)."""
        try:
            held = self.ledger.reserve(usd, what=what, scope=scope)
        except ScopeBudgetExceededError as exc:
            return ("scope", str(exc), exc.scope, exc.spent_usd, exc.cap_usd, exc.requested_usd)
        except BudgetExceededError as exc:
            return ("run", str(exc), exc.spent_usd, exc.cap_usd, exc.requested_usd)
        self.open[held.id] = (owner, held)
        return ("ok", held.id)

    def settle(self, reservation_id: int, usd: float) -> None:
        """Replace a reservation by what was billed (a second settle is a no-op)."""
        entry = self.open.pop(reservation_id, None)
        if entry is not None:
            self.ledger.settle(entry[1], usd)

    def charge(self, usd: float, scope: str) -> None:
        self.ledger.charge(usd, scope=scope)

    def abandon(self, owner: str) -> float:
        """Charge in full every open reservation of a dispatch whose worker is gone."""
        total = 0.0
        for rid, (who, held) in list(self.open.items()):
            if who == owner:
                self.settle(rid, held.usd)
                total += held.usd
        return total

    def totals(self) -> tuple[float, float, dict[str, float]]:
        """(spent, reserved, spent by scope)."""
        led = self.ledger
        return led.spent_usd, led.reserved_usd, led.scopes_spent_usd()


class RemoteLedger(BudgetLedger):
    """A worker's view of the driver's ledger: every reserve and settle goes to the actor.

    Blocking round trips, called from the worker's event loop: a worker process runs one
    item at a time, so nothing else waits behind them.
    """

    def __init__(self, actor: Any, cap_usd: float | None, scope_cap_usd: float | None) -> None:
        super().__init__(cap_usd, scope_cap_usd=scope_cap_usd)
        self.actor = actor
        self.owner = ""

    @property
    def spent_usd(self) -> float:
        return float(ray.get(self.actor.totals.remote())[0])

    @property
    def reserved_usd(self) -> float:
        return float(ray.get(self.actor.totals.remote())[1])

    def scope_spent_usd(self, scope: str) -> float:
        return float(ray.get(self.actor.totals.remote())[2].get(scope, 0.0))

    def scopes_spent_usd(self) -> dict[str, float]:
        return dict(ray.get(self.actor.totals.remote())[2])

    def reserve(self, usd: float, *, what: str = "call", scope: str = "") -> Reservation:
        answer = ray.get(self.actor.reserve.remote(usd, what, scope, self.owner))
        if answer[0] == "scope":
            _, message, name, spent, cap, requested = answer
            raise ScopeBudgetExceededError(
                message, scope=name, spent_usd=spent, cap_usd=cap, requested_usd=requested
            )
        if answer[0] == "run":
            _, message, spent, cap, requested = answer
            raise BudgetExceededError(
                message, spent_usd=spent, cap_usd=cap, requested_usd=requested
            )
        return Reservation(int(answer[1]), usd, scope)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        ray.get(self.actor.settle.remote(reservation.id, actual_usd))

    def charge(self, usd: float, *, scope: str = "") -> None:
        ray.get(self.actor.charge.remote(usd, scope))


class _Worker:
    """Per worker process: one event loop on a thread, and the open run environments."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="agentlab").start()
        self.runs: dict[str, tuple[str, Any, contextlib.AsyncExitStack, RemoteLedger]] = {}
        # The per-node reaper: a new worker process first removes what dead ones on this node
        # left (containers whose owner process is gone, stopped or past their TTL; live
        # containers of other workers are kept).
        _reap_here(None, False)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop; a cancel (KeyboardInterrupt) cancels it and waits for its
        ``finally`` blocks, so containers are removed and reservations settled."""
        ended = threading.Event()

        async def guarded() -> T:
            try:
                return await coro
            finally:
                ended.set()

        future = asyncio.run_coroutine_threadsafe(guarded(), self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            self.loop.call_soon_threadsafe(future.cancel)
            ended.wait(120)
            raise

    async def open_run(
        self,
        store_url: str,
        run_id: str,
        session: str,
        actor: Any,
        caps: tuple[Any, Any],
        pricing: str,
    ) -> tuple[Any, RemoteLedger]:
        """The run's environment, opened once per run session in this process."""
        from agentlab.coordinator.remote import worker_run

        cached = self.runs.get(run_id)
        if cached is not None and cached[0] == session:
            return cached[1], cached[3]
        # One session per process: an older one (an earlier invocation, another run) has
        # ended, and its containers were removed by the driver; close what is left of it.
        for old in self.runs.values():
            with contextlib.suppress(Exception):
                await old[2].aclose()
        self.runs.clear()
        ledger = RemoteLedger(actor, caps[0], caps[1])
        stack = contextlib.AsyncExitStack()
        path = Path(pricing) if pricing else None
        run = await stack.enter_async_context(worker_run(store_url, run_id, ledger, pricing=path))
        self.runs[run_id] = (session, run, stack, ledger)
        return run, ledger


_WORKER: _Worker | None = None


def _reap_here(run_id: str | None, everything: bool, ttl_s: float | None = None) -> list[str]:
    """The sandbox provider's gc on this node (Docker's; nothing for process sandboxes)."""
    from agentlab.errors import SandboxError
    from agentlab.sandbox import make_provider

    try:
        return asyncio.run(make_provider(None).reap(run_id, ttl_s=ttl_s, everything=everything))
    except SandboxError:
        return []


_remote_reap = ray.remote(num_cpus=0, max_retries=0)(_reap_here)


def gc_cluster(
    run_id: str | None = None,
    *,
    everything: bool = False,
    ttl_s: float | None = None,
    address: str | None = None,
) -> dict[str, list[str]]:
    """Docker gc on every alive node of the cluster: node address -> containers removed.

    Connects to ``address`` (or the cluster this process is already in). ``everything``
    removes live containers too, so it is only allowed for one finished run.
    """
    if everything and run_id is None:
        raise ConfigError("gc --cluster --all needs --run-id: other runs' containers are live")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    refs = {
        str(n["NodeManagerAddress"]) + "/" + str(n["NodeID"])[:8]: _remote_reap.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        ).remote(run_id, everything, ttl_s)  # type: ignore[call-arg]
        for n in nodes
    }
    removed: dict[str, list[str]] = {node: ray.get(ref) for node, ref in refs.items()}
    return removed


def _run_item(
    store_url: str,
    item: WorkItem,
    session: str,
    owner: str,
    actor: Any,
    caps: tuple[Any, Any],
    pricing: str,
) -> WorkResult:
    """The Ray task: one item's attempt in this worker process."""
    global _WORKER
    if _WORKER is None:
        _WORKER = _Worker()
    worker = _WORKER

    async def go() -> WorkResult:
        run, ledger = await worker.open_run(store_url, item.run_id, session, actor, caps, pricing)
        ledger.owner = owner
        result: WorkResult = await run.attempt(item)
        return result

    return worker.call(go())


_remote_item = ray.remote(_run_item)


class RayExecutor:
    """Items' attempts as Ray tasks; the fan-out, caps and bookkeeping stay in the driver."""

    name = "ray"

    def __init__(self, config: RayExecutorConfig | None = None) -> None:
        self.config = config or RayExecutorConfig()
        self.env: RunEnv | None = None
        self.actor: Any = None
        self.session = ""
        self.store_url = ""
        self.caps: tuple[Any, Any] = (None, None)
        self.pricing = ""  # the driver's pricing table; every node needs it at that path

    @contextlib.asynccontextmanager
    async def bound(self, env: object) -> AsyncIterator[None]:
        """Connect to the cluster, move the run's ledger into an actor, and back on exit."""
        assert isinstance(env, RunEnv)
        store = env.store.store
        if store.dialect != "postgresql":
            raise ConfigError(
                f"executor: ray needs a store every node can reach (store: postgresql://...);"
                f" {store.safe_url} is one machine's file"
            )
        await asyncio.to_thread(self._connect)
        ledger = env.models.ledger
        actor_class = ray.remote(num_cpus=0, max_restarts=0)(LedgerActor)
        here = ray.get_runtime_context().get_node_id()
        self.actor = actor_class.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        ).remote(ledger.cap_usd, ledger.spent_usd, ledger.scope_cap_usd, ledger.scopes_spent_usd())
        self.env, self.store_url = env, store.url
        self.caps = (ledger.cap_usd, ledger.scope_cap_usd)
        self.session = uuid.uuid4().hex
        self.pricing = str(default_pricing_path() or "")
        before = ledger.scopes_spent_usd()
        spent_before = ledger.spent_usd
        try:
            yield
        finally:
            spent, _reserved, scopes = await self.actor.totals.remote()
            # What the cluster spent, onto the driver's ledger (the run row's total comes
            # from it): per problem, then the unscoped rest.
            scoped = 0.0
            for scope, usd in scopes.items():
                delta = usd - before.get(scope, 0.0)
                if delta:
                    ledger.charge(delta, scope=scope)
                    scoped += delta
            rest = spent - spent_before - scoped
            if rest:
                ledger.charge(rest)
            ray.kill(self.actor)
            self.actor = None
            # No item of this session is in flight now: remove its containers on every node
            # (warm sandboxes of the workers' pipelines, what a lost worker left).
            await asyncio.to_thread(gc_cluster, env.run_id, everything=True)

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        ray.init(
            address=self.config.address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )

    async def run(
        self,
        items: Sequence[WorkItem],
        handler: ItemHandler,
        *,
        max_workers: int,
        on_result: Callable[[WorkResult], Awaitable[None]] | None = None,
    ) -> list[WorkResult]:
        """Every item once; as many in flight as the cluster has sandbox slots (or more)."""
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        slots = int(resources.get(self.config.resource, 0))

        async def done(_item: WorkItem, result: WorkResult) -> None:
            if on_result is not None:
                await on_result(result)

        width = max(max_workers, slots)
        return await fan_out(items, handler, max_workers=width, on_result=done)

    async def attempt(
        self, item: WorkItem, here: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """The attempt as a Ray task; a lost worker's item is re-dispatched once."""
        env = self.env
        assert env is not None and self.actor is not None, "bound(env) first"
        reason = ""
        for _ in range(DISPATCHES):
            owner = f"{self.session}/{uuid.uuid4().hex}"
            ref = _remote_item.options(
                num_cpus=0,
                resources={self.config.resource: 1},
                max_retries=0,
                retry_exceptions=False,
            ).remote(self.store_url, item, self.session, owner, self.actor, self.caps, self.pricing)
            try:
                result: WorkResult = await ref
            except asyncio.CancelledError:
                ray.cancel(ref, force=False)  # the remote finally blocks still run
                with contextlib.suppress(RayError, asyncio.CancelledError):
                    await asyncio.shield(asyncio.wait_for(asyncio.wrap_future(ref.future()), 30))
                await self.actor.abandon.remote(owner)
                raise
            except RayTaskError as exc:
                await self.actor.abandon.remote(owner)
                raise exc.as_instanceof_cause() from None  # type: ignore[no-untyped-call]
            except RayError as exc:  # the worker or its node died: charge, then re-dispatch
                await self.actor.abandon.remote(owner)
                reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                env.progress.note(f"{item.task_id} sample {item.sample}: {reason}")
                continue
            await self._refresh(item)
            return self._outcome(result)
        await env.store.set_trajectory(
            env.run_id, item.task_id, item.sample, status="error", error=reason
        )
        return reason

    def _outcome(self, result: WorkResult) -> str | None:
        if result.status == "budget_exhausted":
            spent = self.env.models.ledger.spent_usd if self.env else 0.0
            raise BudgetExceededError(
                result.error or "budget cap reached", spent_usd=spent, cap_usd=self.caps[0] or 0.0
            )
        if result.status == "capped":
            raise ScopeBudgetExceededError(
                result.error or "per_task_usd reached",
                scope=result.task_id,
                spent_usd=0.0,
                cap_usd=self.caps[1] or 0.0,
            )
        if result.status == "error":
            return result.error or "error"
        return None

    async def _refresh(self, item: WorkItem) -> None:
        """Read back what the worker stored, so the driver's view of the item is current."""
        env = self.env
        assert env is not None
        traj, cand = await env.store.load_item(env.run_id, item.task_id, item.sample)
        key = (item.task_id, item.sample)
        if traj is not None:
            env.state.trajectories[key] = traj
        if cand is not None:
            env.state.candidates[key] = cand
        if traj is not None and traj.status == "done":
            env.progress.advance("grading")
