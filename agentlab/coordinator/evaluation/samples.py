"""The summary of an evaluation graded per sample (HumanEval, stdin/stdout): passed, pass@k."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agentlab.budget.passk import pass_at_ks
from agentlab.store.eval_store import EvalStore


@dataclass
class SampleSummary:
    """Samples passed of those graded, errors among them, and mean pass@k over problems."""

    label: str
    passed: int = 0
    total: int = 0
    errors: int = 0
    pass_at: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        ks = " ".join(f"{k}={v:.4f}" for k, v in self.pass_at.items())
        return f"{self.label}: {self.passed}/{self.total} passed; {ks}; errors {self.errors}"


async def summarise(
    run_id: str, store: EvalStore, keys: set[tuple[str, str, int]], label: str
) -> SampleSummary:
    """Summarise the stored rows of ``keys`` (every sample asked for) and finish the run."""
    rows = [
        r for r in await store.outcomes(run_id) if (r.instance_id, r.model_name, r.sample) in keys
    ]
    per_task: dict[str, list[bool]] = defaultdict(list)
    summary = SampleSummary(label, total=len(rows))
    for r in rows:
        per_task[r.instance_id].append(r.resolved)
        summary.passed += r.resolved
        summary.errors += r.outcome == "error"
    summary.pass_at = pass_at_ks(per_task)
    await store.finish_run(run_id, "finished", summary.pass_at.get("pass@1"))
    return summary
