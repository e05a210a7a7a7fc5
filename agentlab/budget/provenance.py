"""Where each number of ``budget fit`` and ``budget plan`` comes from: measured or assumed.

A plan multiplies predicted coverage by a selection method's efficiency (selected / coverage)
and adds the method's cost per problem. An efficiency is *measured* when the pilot run has
stored picks for that method (``selection`` rows) and graded candidates; otherwise it is an
*assumption*, and says so with its value and origin. The published CodeMonkeys figures stay
available as assumptions only, never shown as if this run had measured them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agentlab.budget.fit import SelectionCurve

# CodeMonkeys (Ehrlich et al., 2025), SWE-bench Verified at k = 10: 69.8% coverage, 53.0%
# selected by test votes, 57.4% by the selection state machine, selection stage 131.95 USD
# over 500 problems. Used only as labelled assumptions.
PAPER = "CodeMonkeys' published SWE-bench Verified figures at k=10"
ASSUMED_SELECTIONS = (
    SelectionCurve("vote", (10,), (53.0 / 69.8,)),
    SelectionCurve("state_machine", (10,), (57.4 / 69.8,), usd_per_problem=131.95 / 500),
)
# Which measured method ``budget fit`` shows in its "selected" column: the first with picks,
# in the order ``agentlab report`` takes a run's final pick (coordinator.selection.FINAL_ORDER).
FIT_PREFERENCE = ("trajectory", "tournament", "judge", "logprob", "vote", "codet")
# Methods that call no model: their only cost is sandbox time, which the store does not
# separate from sampling's (``sandbox_exec`` rows name the problem, not the stage).
NO_MODEL_METHODS = frozenset({"vote", "codet"})


@dataclass(frozen=True)
class MeasuredSelection:
    """One method's picks in a stored run, against the run's hidden-test grades."""

    method: str
    problems: int
    k: int  # candidates per problem (the median)
    coverage: float
    selected: float
    model_usd: float  # the run's selection-stage model dollars (all model-based methods)

    @property
    def efficiency(self) -> float:
        return self.selected / self.coverage if self.coverage > 0 else 0.0


@dataclass(frozen=True)
class SourcedSelection:
    """A selection curve a plan uses, and where its efficiency and cost come from."""

    curve: SelectionCurve
    source: str
    measured: bool


def random_selection() -> SourcedSelection:
    return SourcedSelection(
        SelectionCurve("random", (1,), (1.0,)),
        "random pick: scores pass@1 by definition (nothing assumed)",
        True,
    )


def measured_selection(m: MeasuredSelection, run_id: str) -> SourcedSelection:
    """A curve from a stored run's picks, with its provenance."""
    usd = 0.0 if m.method in NO_MODEL_METHODS else m.model_usd / max(m.problems, 1)
    cost = (
        "cost: no model calls (its sandbox time is not separated from sampling's in the store)"
        if m.method in NO_MODEL_METHODS
        else f"cost {usd:.4g} USD/problem = the run's selection-stage model dollars / problems"
    )
    return SourcedSelection(
        SelectionCurve(m.method, (m.k,), (m.efficiency,), usd),
        f"MEASURED on run {run_id}: selected {m.selected:.3f} / coverage {m.coverage:.3f} = "
        f"{m.efficiency:.3f} over {m.problems} problems at k={m.k}; {cost}",
        True,
    )


def assumed(curve: SelectionCurve, origin: str) -> SourcedSelection:
    """A curve that is an assumption, labelled with its value and origin."""
    at = ", ".join(f"{e:.3f}@k={k}" for k, e in zip(curve.ks, curve.efficiency, strict=True))
    return SourcedSelection(
        curve,
        f"ASSUMED (not measured): efficiency {at}, selection cost "
        f"{curve.usd_per_problem:.4g} USD/problem, from {origin}",
        False,
    )


def plan_selections(
    measured: Iterable[MeasuredSelection],
    run_id: str,
    given: Sequence[SelectionCurve] | None = None,
) -> tuple[SourcedSelection, ...]:
    """What a plan compares: random, each measured method, then the rest as assumptions.

    ``given`` (``--selection`` on the command line) replaces the assumptions and any measured
    method of the same name; it is the user's assumption and labelled so.
    """
    out = [random_selection()]
    given = list(given or [])
    names = {c.method for c in given}
    out += [measured_selection(m, run_id) for m in measured if m.method not in names]
    if given:
        out += [assumed(c, "--selection on the command line") for c in given]
    else:
        have = {s.curve.method for s in out}
        out += [assumed(c, PAPER) for c in ASSUMED_SELECTIONS if c.method not in have]
    return tuple(out)


def fit_selection(measured: Sequence[MeasuredSelection], run_id: str) -> tuple[float, str]:
    """The efficiency ``budget fit``'s "selected" column uses, and its label."""
    by_name = {m.method: m for m in measured}
    for name in FIT_PREFERENCE:
        if name in by_name:
            chosen = measured_selection(by_name[name], run_id)
            return float(chosen.curve.efficiency[0]), f"{name}, {chosen.source}"
    curve = ASSUMED_SELECTIONS[1]
    return float(curve.efficiency[0]), "state_machine, " + assumed(curve, PAPER).source
