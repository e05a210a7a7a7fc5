"""Fits recover known parameters from simulated data, within their intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agentlab.budget.analysis import fit_summary
from agentlab.budget.fit import (
    PowerLaw,
    SelectionCurve,
    bootstrap_power_law,
    fit_groups,
    fit_power_law,
    score_per_dollar,
)
from agentlab.budget.mixture import BetaPrior, fit_prior
from agentlab.budget.passk import log_spaced_ks
from agentlab.budget.posterior import PriorPosterior
from agentlab.budget.simulate import SHAPES, draw_p
from agentlab.errors import ConfigError


@pytest.mark.parametrize("base", ["10", "e"])
def test_power_law_recovers_exact_curve_in_its_base(base: str) -> None:
    truth = PowerLaw(a=-0.76, b=-0.21, base=10.0 if base == "10" else math.e)
    ks = log_spaced_ks(250, 10)
    fit = fit_power_law(ks, truth(ks), base)
    assert (fit.a, fit.b) == pytest.approx((truth.a, truth.b), abs=1e-9)
    assert fit.base == truth.base


def test_published_fit_reads_in_base_10() -> None:
    # SWE-bench Lite, DeepSeek-Coder-V2: 56% at k = 250 only when read in base 10.
    assert PowerLaw(-0.76, -0.21, 10.0)([250])[0] == pytest.approx(0.56, abs=0.02)
    assert PowerLaw(-0.76, -0.21, math.e)([250])[0] > 0.75
    with pytest.raises(ConfigError, match="base"):
        fit_power_law([1, 2], [0.1, 0.2], "2")


def _counts(prior: BetaPrior, problems: int, samples: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    p = draw_p(prior, problems, rng)
    return p, np.full(problems, samples), rng.binomial(samples, p)


@pytest.mark.parametrize("seed", [0, 1])
def test_beta_prior_parameters_recovered_within_intervals(seed: int) -> None:
    truth = BetaPrior.single(0.3, 0.8, 1.5)
    _, n, c = _counts(truth, 800, 16, seed)
    post = PriorPosterior(n, c)
    for name, value in [("zero_mass", 0.3), ("alpha", 0.8), ("beta", 1.5)]:
        iv = post.parameter_interval(name)
        assert iv.contains(value), (name, iv)
    mixed = post.predictive_prior()
    assert post.parameter_interval("zero_mass").contains(mixed.zero_mass)
    assert mixed.coverage([64])[0] == pytest.approx(
        post.predict_population([64])[0].point, abs=0.02
    )
    ml = fit_prior(n, c, components=1)
    assert ml.zero_mass == pytest.approx(0.3, abs=0.08)
    assert ml.pass_at_1 == pytest.approx(truth.pass_at_1, abs=0.03)


def test_predicts_coverage_at_64_from_8_samples() -> None:
    p, n, c = _counts(SHAPES["codemonkeys"].prior, 500, 8, seed=3)
    truth = float(np.mean(1 - (1 - p) ** 64))
    iv = PriorPosterior(n, c).predict_observed(64)
    assert iv.contains(truth)
    assert abs(iv.point - truth) < 0.03


def test_power_law_bootstrap_holds_population_parameters() -> None:
    p, n, c = _counts(SHAPES["long_tail"].prior, 1500, 16, seed=5)
    ks = log_spaced_ks(16, 5)
    population = fit_power_law(ks, [np.mean(1 - (1 - p) ** k) for k in ks])
    fit = bootstrap_power_law(n, c, ks, reps=200, seed=1)
    assert fit.a.contains(population.a) and fit.b.contains(population.b)
    low, high = fit.band([1, 16, 64])
    assert np.all(low <= fit.law([1, 16, 64])) and np.all(fit.law([1, 16, 64]) <= high)
    groups = fit_groups(n[:100], c[:100], ["x", "y"] * 50, ks, reps=20)
    assert sorted(groups) == ["x", "y"] and groups["x"].problems == 50


def test_selection_curve_and_score_per_dollar() -> None:
    curve = SelectionCurve("vote", (1, 100), (1.0, 0.5), usd_per_problem=1.0)
    assert curve([10])[0] == pytest.approx(0.75)
    assert curve([1000])[0] == pytest.approx(0.5)
    selected, per_usd = score_per_dollar([0.4, 0.8], curve, [1, 100], [1.0, 3.0])
    assert selected.tolist() == pytest.approx([0.4, 0.4])
    assert per_usd.tolist() == pytest.approx([0.2, 0.1])


def test_a_run_with_no_success_gets_the_prior_and_a_reason_instead_of_a_power_law() -> None:
    """A small model that solves nothing (the local model on stdin/stdout problems) still gets
    an interval from the zero-inflated prior; the power law says why it is absent."""
    summary = fit_summary(np.zeros((26, 16), dtype=bool))
    assert summary.law is None
    assert summary.law_note.startswith("coverage is 0 at every k (no sample passed)")
    k16 = next(iv for k, iv, _ in summary.rows if k == 16)
    assert k16.low == 0.0 and 0.0 < k16.high < 0.1
    solved = fit_summary(np.ones((5, 4), dtype=bool))
    assert solved.law is None and solved.law_note.startswith("coverage is 1 at every k")
