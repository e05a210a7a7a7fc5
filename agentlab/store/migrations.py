"""Schema migrations: one function per version step, applied in order inside one transaction.

New tables appear through ``create_all``; a step here is needed only when an existing table
gains or changes a column. Version 1 is the first schema, so there is nothing to step from yet.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from agentlab.errors import StoreError

Step = Callable[[Session], None]

# STEPS[v] migrates a store from version v to v + 1.
STEPS: dict[int, Step] = {}


def migrate(session: Session, found: int, target: int) -> None:
    for version in range(found, target):
        step = STEPS.get(version)
        if step is None:
            raise StoreError(f"no migration from schema version {version} to {version + 1}")
        step(session)
