"""A hard dollar cap shared by many concurrent calls: reserve the worst case, settle the truth.

Before a call the client reserves the most it can cost; if ``spent + reserved + ceiling``
would pass the cap the call is refused with :class:`BudgetExceededError` (carrying what was
spent) and never sent. After the call the reservation is replaced by the real cost. Because a
reservation is a true upper bound (see :func:`prompt_token_ceiling`), concurrent calls can
never together spend past the cap. The ledger is guarded by a lock, so threads and tasks may
share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agentlab.errors import BudgetExceededError
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


class BudgetLedger:
    """Spent and reserved dollars against a cap (``None`` = unlimited, still counted)."""

    def __init__(self, cap_usd: float | None, *, spent_usd: float = 0.0) -> None:
        self.cap_usd = cap_usd
        self._spent = spent_usd
        self._open: dict[int, float] = {}
        self._next = 0
        self._lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def reserved_usd(self) -> float:
        with self._lock:
            return sum(self._open.values())

    def reserve(self, usd: float, *, what: str = "call") -> Reservation:
        """Hold ``usd`` for one call, or refuse with BudgetExceededError."""
        with self._lock:
            held = sum(self._open.values())
            if self.cap_usd is not None and self._spent + held + usd > self.cap_usd:
                raise BudgetExceededError(
                    f"budget cap ${self.cap_usd:.4f} reached: {what} could cost up to "
                    f"${usd:.4f} with ${self._spent:.4f} spent and ${held:.4f} in flight",
                    spent_usd=self._spent,
                    cap_usd=self.cap_usd,
                    requested_usd=usd,
                )
            self._next += 1
            self._open[self._next] = usd
            return Reservation(self._next, usd)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Replace a reservation by what the call really cost (0 for a failed call)."""
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return  # settled already; settling twice must not double-count
            self._spent += actual_usd

    def charge(self, usd: float) -> None:
        """Record spend that needed no reservation."""
        with self._lock:
            self._spent += usd
