"""Group commit: one thread runs the store's queued work, many jobs per transaction.

Under fan-out, hundreds of trajectories each write a few small rows per step. One transaction
per row spends most of its time in session set-up and commit, not in SQL. The writer drains
whatever is queued (up to ``max_batch`` jobs) into a single transaction, and each caller's
future resolves only once that transaction has committed — so "awaited" still means
"durable", exactly as with one transaction per job.

If any job in a batch fails, the batch is rolled back and re-run as two halves, recursively,
so a failure reaches only the caller whose job failed and costs a few extra transactions, not
one per job. Jobs must therefore be plain database work that is safe to run again after a
rollback.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from sqlmodel import Session

Job = tuple[Callable[[Session], Any], "concurrent.futures.Future[Any]"]
_STOP = object()


class GroupWriter:
    """Runs submitted jobs on one thread, batching queued jobs into one transaction."""

    def __init__(
        self,
        session: Callable[[], AbstractContextManager[Session]],
        run_one: Callable[[Callable[[Session], Any]], Any],
        *,
        max_batch: int = 128,
    ) -> None:
        self._session = session
        self._run_one = run_one
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="agentlab-store", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Session], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((fn, future))
        return future

    def close(self) -> None:
        """Finish every queued job, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _batches(self) -> Iterator[list[Job]]:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[Job] = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                batch.append(job)
            yield batch
            if stop:
                return

    def _loop(self) -> None:
        for batch in self._batches():
            self._settle(batch)

    def _settle(self, batch: list[Job]) -> None:
        if len(batch) == 1:
            fn, future = batch[0]
            self._settle_one(fn, future)
        elif not self._run_batch(batch):
            half = len(batch) // 2
            self._settle(batch[:half])
            self._settle(batch[half:])

    def _run_batch(self, batch: list[Job]) -> bool:
        """All jobs in one transaction; False (rolled back, nothing settled) if any failed."""
        try:
            with self._session() as session:
                # No flush per job: autoflush covers a job reading what an earlier one added,
                # and any failure surfaces at commit, where the batch is split.
                results = [fn(session) for fn, _ in batch]
        except BaseException:
            return False
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
        return True

    def _settle_one(
        self, fn: Callable[[Session], Any], future: concurrent.futures.Future[Any]
    ) -> None:
        try:
            future.set_result(self._run_one(fn))
        except BaseException as exc:
            future.set_exception(exc)
