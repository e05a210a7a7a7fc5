"""A small Nelder-Mead minimiser: the budget package depends on numpy only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agentlab.budget.passk import FloatArray


def nelder_mead(
    fn: Callable[[FloatArray], float],
    x0: FloatArray,
    *,
    step: float = 0.5,
    max_iter: int = 400,
    tol: float = 1e-9,
) -> tuple[FloatArray, float]:
    """Minimise ``fn`` from ``x0``; returns ``(x, fn(x))``. Standard coefficients."""
    dim = len(x0)
    simplex = np.vstack([x0] + [x0 + step * np.eye(dim)[i] for i in range(dim)])
    values = np.array([fn(x) for x in simplex])
    for _ in range(max_iter):
        order = np.argsort(values)
        simplex, values = simplex[order], values[order]
        if abs(values[-1] - values[0]) <= tol * (1.0 + abs(values[0])):
            break
        centroid = simplex[:-1].mean(axis=0)
        reflected = centroid + (centroid - simplex[-1])
        f_r = fn(reflected)
        if f_r < values[0]:
            expanded = centroid + 2.0 * (centroid - simplex[-1])
            f_e = fn(expanded)
            simplex[-1], values[-1] = (expanded, f_e) if f_e < f_r else (reflected, f_r)
        elif f_r < values[-2]:
            simplex[-1], values[-1] = reflected, f_r
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            f_c = fn(contracted)
            if f_c < values[-1]:
                simplex[-1], values[-1] = contracted, f_c
            else:  # shrink towards the best point
                simplex[1:] = simplex[0] + 0.5 * (simplex[1:] - simplex[0])
                values[1:] = [fn(x) for x in simplex[1:]]
    best = int(np.argmin(values))
    return simplex[best], float(values[best])
