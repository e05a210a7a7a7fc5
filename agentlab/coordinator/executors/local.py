"""The local executor: work items run as asyncio tasks in this process (the default)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from agentlab.coordinator.fanout import fan_out
from agentlab.protocols import ItemHandler
from agentlab.types import WorkItem, WorkResult


class LocalExecutor:
    """Runs items through :func:`agentlab.coordinator.fanout.fan_out` (TaskGroup + semaphore)."""

    name = "local"

    async def run(
        self,
        items: Sequence[WorkItem],
        handler: ItemHandler,
        *,
        max_workers: int,
        on_result: Callable[[WorkResult], Awaitable[None]] | None = None,
    ) -> list[WorkResult]:
        """Every item once, at most ``max_workers`` at a time; results in item order."""

        async def done(_item: WorkItem, result: WorkResult) -> None:
            if on_result is not None:
                await on_result(result)

        return await fan_out(items, handler, max_workers=max_workers, on_result=done)
