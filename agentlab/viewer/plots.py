"""SVG plots of a run's aggregates, drawn with matplotlib (no display) from ``stats`` output.

The curves are the budget package's estimates (see ``stats.coverage_block``); this module
only draws them, like ``agentlab budget fit --out``.
"""

from __future__ import annotations

import io
import threading
from typing import Any

_LOCK = threading.Lock()  # pyplot keeps global state: one figure at a time


def _svg(draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with _LOCK:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        try:
            draw(ax)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
        finally:
            plt.close(fig)
    return buf.getvalue()


def coverage_svg(stats: dict[str, Any]) -> str:
    """Coverage vs k (observed), the power-law fit with its 90% band, selected and random pick."""
    curve = stats["curve"]

    def draw(ax: Any) -> None:
        ks = curve["ks"]
        if ks:
            ax.plot(ks, curve["coverage"], "o-", label="coverage (pass@k)")
        fit = curve.get("fit")
        if fit:
            ax.plot(ks, fit["curve"], ":", label=f"power law, a={fit['a']:.3f} b={fit['b']:.3f}")
            ax.fill_between(
                ks, fit["low"], fit["high"], alpha=0.2, color="grey", label="90% bootstrap band"
            )
        if stats.get("random_pick") is not None:
            ax.axhline(stats["random_pick"], ls="--", color="tab:orange", label="random pick")
        for method, sel in stats.get("selected", {}).items():
            if sel.get("score") is not None:
                ax.axhline(sel["score"], ls="-.", color="tab:green", label=f"selected ({method})")
        if ks and max(ks) > 1:
            ax.set_xscale("log")
        ax.set_xlabel("samples per problem k")
        ax.set_ylabel("share of problems")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower right")

    return _svg(draw)


def cost_svg(stats: dict[str, Any]) -> str:
    """Cumulative dollars over the run's wall-clock minutes (from its first LLM call)."""
    points = [p for p in stats.get("cost_over_time", []) if p.get("minutes") is not None]

    def draw(ax: Any) -> None:
        ax.plot([p["minutes"] for p in points], [p["usd"] for p in points], ".-")
        ax.set_xlabel("minutes since the run's first LLM call")
        ax.set_ylabel("cumulative USD")

    return _svg(draw)
