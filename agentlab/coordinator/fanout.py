"""The one place that fans work out, and owns cancellation.

:func:`fan_out` runs an async function over many items with at most ``max_workers`` in flight
(a ``TaskGroup`` plus a semaphore). Results are handed to ``on_result`` as they finish, so a
caller can persist each one at once and an interrupted run keeps everything done so far. If
one item raises, or the caller is cancelled (Ctrl-C), every other item is cancelled and awaited
before ``fan_out`` returns: each worker's own ``async with`` / ``finally`` blocks (removing
containers, closing files) run to completion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


async def fan_out(
    items: Iterable[T],
    work: Callable[[T], Awaitable[R]],
    *,
    max_workers: int,
    on_result: Callable[[T, R], Awaitable[None]] | None = None,
) -> list[R]:
    """Run ``work`` over ``items``, at most ``max_workers`` at a time; results in item order.

    ``on_result`` runs for each finished item inside the same bounded slot, so persisting a
    result is part of the work: if it fails, the whole fan-out is cancelled like any error.
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    todo = list(items)
    results: list[R | None] = [None] * len(todo)
    gate = asyncio.Semaphore(max_workers)

    async def one(index: int, item: T) -> None:
        async with gate:
            result = await work(item)
            if on_result is not None:
                await on_result(item, result)
            results[index] = result

    async with asyncio.TaskGroup() as group:
        for index, item in enumerate(todo):
            group.create_task(one(index, item))
    # Every slot is filled once the group exits normally (any failure raised above).
    return cast(list[R], results)
