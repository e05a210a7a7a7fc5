"""A hard dollar cap shared by many concurrent calls: reserve the worst case, settle the truth.

Before a call (or a sandbox exec) the caller reserves the most it can cost; if
``spent + reserved + ceiling`` would pass the cap the work is refused with
:class:`BudgetExceededError` (carrying what was spent) and never started. Afterwards the
reservation is replaced by what was billed. Because a reservation is a true upper bound (see
:func:`prompt_token_ceiling`), concurrent work can never together spend past the cap.

A ledger may also cap *scopes* (one per problem: ``budget.per_task_usd``): each scope is a
child ledger under the run's, and a reservation must fit under both. A scope that is full
raises :class:`ScopeBudgetExceededError`, which stops that problem's work, not the run.
The ledger is guarded by a lock, so threads and tasks may share it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agentlab.errors import BudgetExceededError, ScopeBudgetExceededError
from agentlab.types import ChatRequest


def prompt_token_ceiling(request: ChatRequest) -> int:
    """An upper bound on the prompt's token count, with no tokenizer.

    Byte-level BPE tokenizers emit at most one token per UTF-8 byte; chat templates add a few
    tokens per message. Generous by design: a reservation must never be an underestimate.
    """
    text_bytes = sum(len(m.content.encode()) for m in request.messages)
    if request.tools or any(m.tool_calls for m in request.messages):
        # Tool schemas and calls travel as JSON; their serialised size bounds them the same way.
        calls = [c for m in request.messages for c in m.tool_calls]
        text_bytes += sum(len(t.model_dump_json().encode()) + 16 for t in request.tools)
        text_bytes += sum(len(c.model_dump_json().encode()) + 16 for c in calls)
    return text_bytes + 8 * len(request.messages) + 16


@dataclass(frozen=True)
class Reservation:
    id: int
    usd: float
    scope: str = ""


class BudgetLedger:
    """Spent and reserved dollars against a cap (``None`` = unlimited, still counted).

    ``scope_cap_usd`` caps every non-empty scope (a problem) separately; ``scope_spent_usd``
    is what each scope spent before (a resumed run).
    """

    def __init__(
        self,
        cap_usd: float | None,
        *,
        spent_usd: float = 0.0,
        scope_cap_usd: float | None = None,
        scope_spent_usd: Mapping[str, float] | None = None,
    ) -> None:
        self.cap_usd = cap_usd
        self.scope_cap_usd = scope_cap_usd
        self._spent = spent_usd
        self._scope_spent: defaultdict[str, float] = defaultdict(float, scope_spent_usd or {})
        self._open: dict[int, Reservation] = {}
        self._next = 0
        self._lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def reserved_usd(self) -> float:
        with self._lock:
            return sum(r.usd for r in self._open.values())

    def scope_spent_usd(self, scope: str) -> float:
        """What one scope (problem) has spent so far."""
        with self._lock:
            return self._scope_spent.get(scope, 0.0)

    def reserve(self, usd: float, *, what: str = "call", scope: str = "") -> Reservation:
        """Hold ``usd`` for one call or exec, or refuse (the run's cap, then the scope's)."""
        with self._lock:
            held = sum(r.usd for r in self._open.values())
            if self.cap_usd is not None and self._spent + held + usd > self.cap_usd:
                raise BudgetExceededError(
                    f"budget cap ${self.cap_usd:.4f} reached: {what} could cost up to "
                    f"${usd:.4f} with ${self._spent:.4f} spent and ${held:.4f} in flight",
                    spent_usd=self._spent,
                    cap_usd=self.cap_usd,
                    requested_usd=usd,
                )
            if scope and self.scope_cap_usd is not None:
                spent = self._scope_spent.get(scope, 0.0)
                mine = sum(r.usd for r in self._open.values() if r.scope == scope)
                if spent + mine + usd > self.scope_cap_usd:
                    raise ScopeBudgetExceededError(
                        f"per_task_usd: {scope} reached its cap ${self.scope_cap_usd:.4f}: "
                        f"{what} could cost up to ${usd:.4f} with ${spent:.4f} spent and "
                        f"${mine:.4f} in flight",
                        scope=scope,
                        spent_usd=spent,
                        cap_usd=self.scope_cap_usd,
                        requested_usd=usd,
                    )
            self._next += 1
            reservation = Reservation(self._next, usd, scope)
            self._open[self._next] = reservation
            return reservation

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Replace a reservation by what the work was billed (see the client's settle rules)."""
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return  # settled already; settling twice must not double-count
            self._spent += actual_usd
            if reservation.scope:
                self._scope_spent[reservation.scope] += actual_usd

    def charge(self, usd: float, *, scope: str = "") -> None:
        """Record spend that needed no reservation."""
        with self._lock:
            self._spent += usd
            if scope:
                self._scope_spent[scope] += usd


@dataclass(frozen=True)
class ComputeMeter:
    """Sandbox time on the same ledger as the LLM calls.

    What is charged is wall-clock seconds of each exec times the CPUs the container reserves
    (what a provider bills for reserved cores, busy or not), priced by ``price`` (CPU-seconds
    to dollars). Before an exec the meter reserves its longest possible run (its timeout plus
    ``grace_s`` for the kill, or ``untimed_s`` when it has none), so an exec that could cross
    the cap is refused before it starts; afterwards it settles the measured time.
    """

    ledger: BudgetLedger
    price: Callable[[float], float]
    grace_s: float = 60.0
    untimed_s: float = 3600.0

    def reserve(self, cpus: float, timeout: float | None, *, scope: str = "") -> Reservation:
        """Hold the exec's worst case, or refuse (run cap, then the problem's)."""
        seconds = (self.untimed_s if timeout is None else timeout) + self.grace_s
        what = f"sandbox exec ({cpus:g} CPUs for up to {seconds:g}s)"
        return self.ledger.reserve(self.price(cpus * seconds), what=what, scope=scope)

    def settle(self, reservation: Reservation, cpu_seconds: float) -> float:
        """Charge ``cpu_seconds`` in place of the reservation; returns the dollars."""
        usd = self.price(cpu_seconds)
        self.ledger.settle(reservation, usd)
        return usd
