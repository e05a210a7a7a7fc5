"""The coordinator: the one package that fans work out, resumes, retries, evaluates, selects.

Where things live (docs/architecture.md draws the whole floor plan):

- :mod:`.fanout` — the bounded ``TaskGroup`` fan-out everything else goes through;
- :mod:`.executors` — the :class:`~agentlab.protocols.Executor` seam (``local`` asyncio now);
- :mod:`.kinds` — the ``TaskKind`` seam: one module per benchmark kind plus its registry line;
- :mod:`.engine` — the run engine: work items, retries, per-problem outcomes;
  :mod:`.launch` starts or resumes a run (resume reads everything back from the store);
- :mod:`.rounds` / :mod:`.allocation` — the adaptive policy's rounds and the state it sees.

Imports point down only: this package uses agent, llm, sandbox, tasks, scoring, budget and
store; the CLI, the viewer and experiments/ use it.
"""

from agentlab.coordinator.fanout import fan_out

__all__ = ["fan_out"]
