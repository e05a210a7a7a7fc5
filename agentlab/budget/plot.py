"""Plots of coverage fits: coverage and selected score vs k and vs dollars, with bands.

matplotlib is imported when a plot is drawn (it renders to a file, no display needed).
"""

from __future__ import annotations

import numpy as np

from agentlab.budget.fit import bootstrap_power_law
from agentlab.budget.passk import coverage_curve, log_spaced_ks
from agentlab.budget.posterior import PriorPosterior


def plot_fit(
    path: str,
    n: np.ndarray,
    c: np.ndarray,
    post: PriorPosterior,
    base: str,
    efficiency: float,
    usd_per_sample: float | None,
    problems: int,
    selected_label: str = "selected (state machine, assumed efficiency)",
) -> None:
    """Coverage and selected score vs k (and vs dollars when the cost is known), with bands.

    ``selected_label`` names the selection method and whether its efficiency was measured.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file
    import matplotlib.pyplot as plt

    observed = log_spaced_ks(int(n.min()), 8)
    ks = log_spaced_ks(int(n.min()) * 8, 16)
    preds = [post.predict_observed(k) for k in ks]
    mid = np.array([p.point for p in preds])
    low, high = np.array([p.low for p in preds]), np.array([p.high for p in preds])
    panels = 2 if usd_per_sample else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
    xs = [np.asarray(ks, dtype=float)]
    if usd_per_sample:
        xs.append(np.asarray(ks, dtype=float) * usd_per_sample * problems)
    for ax, x, label in zip(axes[0], xs, ["samples per problem k", "USD"], strict=False):
        scale = x[0] / ks[0]
        ax.plot(np.asarray(observed) * scale, coverage_curve(n, c, observed), "o", label="pass@k")
        ax.plot(x, mid, label="coverage, zero-inflated Beta model")
        ax.fill_between(x, low, high, alpha=0.25, label="90% interval")
        ax.plot(x, mid * efficiency, "--", label=selected_label)
        ax.fill_between(x, low * efficiency, high * efficiency, alpha=0.15)
        if len(observed) >= 2:
            law = bootstrap_power_law(n, c, observed, base=base, reps=100)
            ax.plot(x, law.law(ks), ":", label=f"power law, base {base}")
            law_low, law_high = law.band(ks)
            ax.fill_between(x, law_low, law_high, alpha=0.1, color="grey")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("score")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
