"""Budgets: pass@k, coverage fits and prediction, cost model, planning, adaptive allocation.

Pure and synchronous (numpy only, no I/O); see docs/budget.md.
"""

from agentlab.budget.cost import Breakdown, SandboxPrices, SelfHosted, SpendItem, TokenPrices
from agentlab.budget.fit import PowerLaw, SelectionCurve, bootstrap_power_law, fit_power_law
from agentlab.budget.mixture import BetaPrior, fit_prior
from agentlab.budget.passk import coverage_curve, pass_at_k
from agentlab.budget.plan import Pilot, Plan, plan
from agentlab.budget.policy import AdaptivePolicy, AllocationState, Decision, UniformPolicy
from agentlab.budget.posterior import Interval, PriorPosterior
from agentlab.budget.simulate import SHAPES, Verifier, replay_outcomes, run_policy, simulate

__all__ = [
    "SHAPES",
    "AdaptivePolicy",
    "AllocationState",
    "BetaPrior",
    "Breakdown",
    "Decision",
    "Interval",
    "Pilot",
    "Plan",
    "PowerLaw",
    "PriorPosterior",
    "SandboxPrices",
    "SelectionCurve",
    "SelfHosted",
    "SpendItem",
    "TokenPrices",
    "UniformPolicy",
    "Verifier",
    "bootstrap_power_law",
    "coverage_curve",
    "fit_power_law",
    "fit_prior",
    "pass_at_k",
    "plan",
    "replay_outcomes",
    "run_policy",
    "simulate",
]
