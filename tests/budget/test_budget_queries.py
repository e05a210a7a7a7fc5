"""Predicted and realized scores of a budgeted run round-trip through a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import ConfigError
from agentlab.store import open_store
from agentlab.store.budget_queries import read_run_outcomes, save_prediction, save_realized
from agentlab.store.tables import Run


def test_prediction_and_realized_are_stored(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    try:
        store.call(lambda s: s.add(Run(id="r1", kind="run")))
        save_prediction(store, "r1", point=0.55, low=0.5, high=0.6, budget_usd=200.0)
        run = save_realized(store, "r1", 0.53, 180.0)
        assert (run.predicted_score, run.predicted_low, run.predicted_high) == (0.55, 0.5, 0.6)
        assert (run.realized_score, run.spent_usd, run.budget_usd) == (0.53, 180.0, 200.0)
        with pytest.raises(ConfigError, match="not in the store"):
            save_realized(store, "missing", 0.1, 1.0)
        with pytest.raises(ConfigError, match="0 instance"):
            read_run_outcomes(store, "r1")
    finally:
        store.close()
