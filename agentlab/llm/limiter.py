"""Per-endpoint adaptive concurrency: additive increase, multiplicative decrease.

A 429 halves the limit (at most once per ``limit`` completions, so a burst of 429s from one
overload does not collapse it to the floor); every ``limit`` successes raise it by one.
Waiters are served first-come first-served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agentlab.llm.config import LimitConfig


class AdaptiveLimiter:
    """An async semaphore whose size moves between ``min`` and ``max``."""

    def __init__(self, config: LimitConfig) -> None:
        self.min = config.min
        self.max = max(config.max, config.min)
        self.limit = min(max(config.initial, self.min), self.max)
        self.in_flight = 0
        self.peak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._successes = 0
        self._completed = 0
        self._last_cut = -(10**9)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one concurrency slot for the body (released on error and cancellation)."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self._take()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # we were handed a slot just as we were cancelled
            else:
                self._waiters.remove(fut)
            raise

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        self._completed += 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self._take()
                fut.set_result(None)

    def on_success(self) -> None:
        """A call succeeded: after ``limit`` of them, allow one more in flight."""
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.max:
            self._successes = 0
            self.limit += 1
            self._wake()

    def on_rate_limited(self) -> None:
        """The endpoint said 429: halve the limit, once per wave of in-flight calls."""
        if self._completed - self._last_cut < self.limit:
            return
        self._last_cut = self._completed
        self._successes = 0
        self.limit = max(self.min, self.limit // 2)
