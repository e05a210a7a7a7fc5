"""Coverage at k = 64 predicted from 8 samples per problem, on simulated populations.

Reproduces the line of docs/budget.md ("Coverage at k = 64 from 8 samples (10 seeds per
shape): mean absolute error ... 90%-interval hit rate ... (power law alone: ...)") and draws
the coverage-vs-k figure `agentlab budget fit --out` draws, for one simulated run, from the
library alone (agentlab.budget), not the CLI.

    python experiments/coverage_at_64.py [--seeds 10] [--problems 500] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from agentlab.budget import SHAPES, PriorPosterior, coverage_curve, fit_power_law, simulate
from agentlab.budget.analysis import fit_summary
from agentlab.budget.plot import plot_fit


def errors(shape: str, seeds: int, problems: int) -> tuple[list[float], list[float], list[bool]]:
    """Per seed: the model's and the power law's error (points) at k = 64, and interval hits."""
    model, law_err, hits = [], [], []
    for seed in range(seeds):
        out = simulate(SHAPES[shape], problems, 8, seed=2000 + seed)
        assert out.p is not None
        truth = float(np.mean(1.0 - (1.0 - out.p) ** 64))
        n, c = np.full(problems, 8), out.correct.sum(axis=1)
        interval = PriorPosterior(n, c).predict_observed(64, seed=seed)
        law = fit_power_law([1, 2, 4, 8], coverage_curve(n, c, [1, 2, 4, 8]), "10")
        model.append(100 * abs(interval.point - truth))
        law_err.append(100 * abs(float(law([64])[0]) - truth))
        hits.append(interval.contains(truth))
    return model, law_err, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("experiments/out"))
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"{'shape':<12} {'model MAE pts':>14} {'90% hits':>9} {'power-law MAE pts':>18}")
    all_err, all_hits = [], []
    for shape in SHAPES:
        model, law_err, hits = errors(shape, args.seeds, args.problems)
        all_err += model
        all_hits += hits
        print(
            f"{shape:<12} {np.mean(model):>14.2f} {np.mean(hits):>9.2f} {np.mean(law_err):>18.2f}"
        )
    print(
        f"all shapes: model MAE {np.mean(all_err):.2f} points, 90% hit rate {np.mean(all_hits):.2f}"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    run = simulate(SHAPES["codemonkeys"], args.problems, 8, seed=2000)
    fit = fit_summary(run.correct)
    figure = args.out / "coverage_fit.png"
    plot_fit(str(figure), fit.n, fit.c, fit.posterior, "10", fit.efficiency, None, fit.problems)
    print(f"figure: {figure} (codemonkeys shape, seed 2000, {args.problems} x 8)")
    print(f"took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
