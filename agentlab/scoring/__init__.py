"""Scoring and selection: generated-test voting, verifier models, the selection state machine.

Pure logic and sandbox/LLM work through protocols only; the store and the orchestration
over a run live in :mod:`agentlab.store.scoring_store` and :mod:`agentlab.coordinator.selection`.
"""

from agentlab.scoring.diffs import normalise_diff, patch_sha, text_sha
from agentlab.scoring.llm import Generate, ModelRole
from agentlab.scoring.matrix import Cell, CellJob, MatrixTest, WarmRepo
from agentlab.scoring.metrics import ProblemMetrics, RunMetrics, per_problem, per_run
from agentlab.scoring.selector import Option, SelectionOutcome, TestRun, select
from agentlab.scoring.votes import Ranked, TestVerdict, count_votes, rank, verdicts

__all__ = [
    "Cell",
    "CellJob",
    "Generate",
    "MatrixTest",
    "ModelRole",
    "Option",
    "ProblemMetrics",
    "Ranked",
    "RunMetrics",
    "SelectionOutcome",
    "TestRun",
    "TestVerdict",
    "WarmRepo",
    "count_votes",
    "normalise_diff",
    "patch_sha",
    "per_problem",
    "per_run",
    "rank",
    "select",
    "text_sha",
    "verdicts",
]
