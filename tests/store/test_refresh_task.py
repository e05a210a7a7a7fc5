"""A worker's view of one problem, refreshed from the store (on SQLite and Postgres): another
process's steps, trajectory and candidate of that problem come in; other problems stay as the
worker last saw them, so a work item's read does not grow with the run."""

from __future__ import annotations

from agentlab.store import open_store
from agentlab.store.run_store import RunStore
from agentlab.store.scoring_store import ScoringStore
from agentlab.types import Candidate


async def test_refresh_takes_the_problems_rows_and_leaves_the_others(store_url: str) -> None:
    store = open_store(store_url)
    try:
        await ScoringStore(store).ensure_run("r", kind="run", name="r", config={})
        runs = RunStore(store)
        await runs.save_turn("r", "a", 0, "program", 0, "program", '{"step": 0}')
        await runs.save_turn("r", "b", 0, "program", 0, "program", '{"step": 0}')
        mine = await runs.load("r")
        # Another process writes more of both problems.
        await runs.save_turn("r", "a", 0, "program", 1, "passed", '{"step": 1}')
        await runs.save_turn("r", "b", 1, "program", 0, "program", '{"step": 0}')
        await runs.set_trajectory("r", "a", 0, status="done", stage="program")
        await runs.save_candidate("r", Candidate(task_id="a", sample=0, patch="p", patch_sha="s"))
        mine.turns[("a", 9, "program")] = ["stale"]  # what this process thought, now gone

        await runs.refresh_task(mine, "r", "a")
        assert mine.steps("a", 0, "program") == ['{"step": 0}', '{"step": 1}']
        assert ("a", 9, "program") not in mine.turns
        assert mine.trajectories[("a", 0)].status == "done"
        assert mine.candidates[("a", 0)].patch == "p"
        assert ("b", 1, "program") not in mine.turns  # b was not refreshed
        assert mine.steps("b", 0, "program") == ['{"step": 0}']
    finally:
        store.close()
