"""Writing the study's results: PNG figures, one markdown file of tables, the SQL behind them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from agentlab.budget.fit import SelectionCurve
from agentlab.budget.plan import Choice, Plan
from agentlab.store.db import Store

from . import analyses as an
from . import data

PLANNED_SQL = (
    "SELECT avg(c.resolved) FROM selection s JOIN candidate c ON c.id = s.candidate_id"
    " WHERE s.run_id = '{run}' AND s.method = 'codet'"
)


PICKS_SQL = (
    "SELECT s.method, avg(c.resolved), count(*) FROM selection s JOIN candidate c"
    " ON c.id = s.candidate_id WHERE s.run_id = '{run}' GROUP BY s.method ORDER BY s.method"
)
JUDGE_CALLS_SQL = (
    "SELECT count(*), coalesce(sum(usd), 0), sum(CASE WHEN cache_hit THEN 1 ELSE 0 END)"
    " FROM llm_call WHERE run_id = '{run}' AND role LIKE 'verifier%'"
)
COVERAGE_SQL = (
    "SELECT avg(s), (SELECT avg(resolved) FROM candidate WHERE run_id = '{run}')"
    " FROM (SELECT max(resolved) AS s FROM candidate WHERE run_id = '{run}' GROUP BY task_id) t"
)


def judged_outcome(store: Store, run_id: str) -> dict[str, float] | None:
    """Per method the mean resolved of its picks, pass@1, coverage and the verifier's calls."""
    if data.run_status(store, run_id) != "finished":
        return None
    rows = data.rows(store, PICKS_SQL.format(run=run_id))
    picks = {str(m): float(v or 0.0) for m, v, _ in rows}  # type: ignore[arg-type]
    calls, usd, hits = data.rows(store, JUDGE_CALLS_SQL.format(run=run_id))[0]
    cov, pass1 = data.rows(store, COVERAGE_SQL.format(run=run_id))[0]
    return {
        **{f"pick:{m}": v for m, v in picks.items()},
        "coverage": float(cov or 0.0),  # type: ignore[arg-type]
        "pass1": float(pass1 or 0.0),  # type: ignore[arg-type]
        "calls": float(calls or 0),  # type: ignore[arg-type]
        "cache_hits": float(hits or 0),  # type: ignore[arg-type]
        "usd": float(usd or 0.0),  # type: ignore[arg-type]
    }


def planned_outcome(store: Store, run_id: str) -> dict[str, float] | None:
    """Selected score, pass@1, coverage, samples and spend of the planned run (None if absent)."""
    if data.run_status(store, run_id) is None:
        return None
    sel = data.rows(store, PLANNED_SQL.format(run=run_id))[0][0]
    res = data.rows(
        store,
        f"SELECT avg(resolved), count(*) FROM candidate WHERE run_id = '{run_id}' AND source = ''",
    )[0]
    cov = data.rows(
        store,
        "SELECT avg(s) FROM (SELECT max(resolved) AS s FROM candidate"
        f" WHERE run_id = '{run_id}' AND source = '' GROUP BY task_id) AS t",
    )[0][0]
    spent = data.rows(store, data.RUN_SQL.format(run=run_id))[0][1]
    return {
        "selected": float(sel or 0.0),  # type: ignore[arg-type]
        "pass1": float(res[0] or 0.0),  # type: ignore[arg-type]
        "samples": float(res[1] or 0),  # type: ignore[arg-type]
        "coverage": float(cov or 0.0),  # type: ignore[arg-type]
        "spent": float(spent or 0.0),  # type: ignore[arg-type]
    }


class Report:
    """Collects sections into ``results.md`` and figures next to it."""

    def __init__(self, out: Path, store_url: str) -> None:
        self.out, self.store_url = out, store_url
        self.parts: list[str] = []
        self.numbers: dict[str, float] = {}

    def _figure(self, fig: Figure, ax: Axes, name: str, alt: str, xlabel: str, ylabel: str) -> None:
        """Label, save as ``name`` next to results.md, close, and link it from the text."""
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(self.out / name, dpi=120)
        plt.close(fig)
        self.parts.append(f"![{alt}]({name})\n")

    def _sql(self, *queries: str) -> None:
        self.parts.append('SQL behind these numbers (`agentlab sql --store STORE "..."`):\n')
        for q in queries:
            self.parts.append(f"    {q}")
            print(f"  sql: {q}")
        self.parts.append("")

    def _table(self, head: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.parts.append("| " + " | ".join(head) + " |")
        self.parts.append("|" + "---|" * len(head))
        for row in rows:
            self.parts.append("| " + " | ".join(str(c) for c in row) + " |")
            print("  " + "  ".join(f"{c!s:>12}" for c in row))
        self.parts.append("")

    def scaling(
        self,
        run: data.Sampled,
        ks: list[int],
        point: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        preds: list[an.OrderPrediction],
    ) -> None:
        print("\n== a. scaling: coverage vs k (80 problems x 32 samples)")
        self.parts.append(
            f"## a. Coverage vs k ({len(run.tasks)} problems x {run.samples} samples)\n"
        )
        self._table(
            ["k", "coverage", "90% band (bootstrap over problems)"],
            [
                (k, f"{p:.3f}", f"{lo:.3f}-{hi:.3f}")
                for k, p, lo, hi in zip(ks, point, low, high, strict=True)
            ],
        )
        unsolved = int((~run.resolved.any(axis=1)).sum())
        self.parts.append(
            f"Problems with no passing sample in {run.samples}: {unsolved} of {len(run.tasks)}. "
            f"Dollars: {run.usd.sum():.4f} USD for {run.resolved.size} samples "
            f"({run.usd.mean() * 1e6:.1f} micro-USD per sample).\n"
        )
        rows = []
        for k in sorted({p.k for p in preds}):
            mine = [p for p in preds if p.k == k]
            err = [100 * abs(p.model.point - p.realized) for p in mine]
            law = [100 * abs(p.power_law - p.realized) for p in mine]
            hits = [p.model.contains(p.realized) for p in mine]
            signed = [100 * (p.model.point - p.realized) for p in mine]
            rows.append(
                (
                    k,
                    len(mine),
                    f"{np.mean(err):.2f}",
                    f"{np.mean(signed):+.2f}",
                    f"{np.mean(hits):.2f}",
                    f"{np.mean(law):.2f}",
                    f"{np.mean([p.realized for p in mine]):.3f}",
                )
            )
            if k == max(p.k for p in preds):
                self.numbers["fit_error_points"] = float(np.mean(err))
                self.numbers["interval_hits"] = float(np.mean(hits))
        self.parts.append(
            "Predicted from the first 8 samples of each problem (random sample orders):\n"
        )
        self._table(
            [
                "k",
                "orders",
                "model error (pts)",
                "model bias (pts)",
                "90% interval held",
                "power-law error (pts)",
                "realized coverage (mean)",
            ],
            rows,
        )
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.fill_between(ks, low, high, alpha=0.25, label="90% band (bootstrap)")
        ax.plot(ks, point, "o-", label="coverage (unbiased pass@k)")
        first = [p for p in preds if p.order == 0]
        ax.errorbar(
            [p.k for p in first],
            [p.model.point for p in first],
            yerr=[
                [p.model.point - p.model.low for p in first],
                [p.model.high - p.model.point for p in first],
            ],
            fmt="s",
            capsize=4,
            label="predicted from 8 samples (order 0)",
        )
        ax.plot([p.k for p in first], [p.power_law for p in first], "x", label="power law from 8")
        ax.set_xscale("log", base=2)
        ax.set_title(f"{len(run.tasks)} HumanEval problems")
        self._figure(
            fig, ax, "coverage.png", "coverage vs k", "k (samples per problem)", "coverage"
        )
        self._sql(
            "SELECT task_id, sample, resolved FROM candidate WHERE run_id = 'he-scaling'"
            " ORDER BY task_id, sample",
            "SELECT avg(s) FROM (SELECT max(resolved) AS s FROM candidate"
            " WHERE run_id = 'he-scaling' GROUP BY task_id) t",
            "SELECT sum(usd + replayed_usd) FROM llm_call WHERE run_id = 'he-scaling'",
        )

    def serial(
        self,
        rows: list[tuple[int, int, float, float, float, float]],
        usd_turn: np.ndarray,
        usd_one: float,
        chosen: Plan,
        trajs: Sequence[data.Trajectory],
        parallel: Sequence[tuple[float, float]],
    ) -> None:
        print("\n== a2. serial (own asserts, n turns) vs parallel at equal dollars")
        self.parts.append("## a2. Serial vs parallel at equal cost\n")
        stopped = np.mean([t.passed_own_tests_after is not None for t in trajs])
        turns = np.mean([len(t.completions) for t in trajs])
        self.parts.append(
            f"{len(trajs)} trajectories; a trajectory ends when its completion passes the asserts "
            f"the model wrote ({100 * stopped:.0f}% did), else after n completions (mean "
            f"{turns:.2f} written at n = 4). Cost per trajectory by turn limit: "
            + ", ".join(f"n={i + 1}: {u * 1e6:.1f}" for i, u in enumerate(usd_turn))
            + f" micro-USD; one independent sample: {usd_one * 1e6:.1f} micro-USD.\n"
        )
        self._table(
            [
                "n turns",
                "k trajectories",
                "USD / problem",
                "serial coverage",
                "independent samples at equal USD",
                "parallel coverage",
            ],
            [
                (n, k, f"{u * 1e6:.1f}e-6", f"{c:.3f}", f"{ek:.2f}", f"{p:.3f}")
                for n, k, u, c, ek, p in rows
            ],
        )
        best = chosen.best
        self.parts.append(
            f"`budget plan` over this pilot (80 problems x 1 trajectory x 4 turns, per-turn "
            f"costs measured above; random pick) for the cost of 8 samples per problem chooses "
            f"k = {best.k}, n = {best.iterations}: predicted pass@1-selected "
            f"{best.predicted.point:.3f} ({best.predicted.low:.3f}-{best.predicted.high:.3f}), "
            f"coverage {best.coverage.point:.3f}.\n"
        )
        by_n: dict[int, Choice] = {}
        for o in chosen.options:  # best first: the first option per n is that n's best
            by_n.setdefault(o.iterations, o)
        self._table(
            ["n", "best k affordable", "predicted coverage", "interval"],
            [
                (n, o.k, f"{o.coverage.point:.3f}", f"{o.coverage.low:.3f}-{o.coverage.high:.3f}")
                for n, o in sorted(by_n.items())
            ],
        )
        fig, ax = plt.subplots(figsize=(6, 4))
        for n in sorted({r[0] for r in rows}):
            mine = [r for r in rows if r[0] == n]
            ax.plot([r[2] * 1e6 for r in mine], [r[3] for r in mine], "o-", label=f"serial n={n}")
        ax.plot(
            [u * 1e6 for u, _ in parallel],
            [c for _, c in parallel],
            "k--",
            label="independent samples",
        )
        self._figure(
            fig,
            ax,
            "serial_vs_parallel.png",
            "serial vs parallel",
            "micro-USD per problem",
            "coverage",
        )
        self._sql(
            "SELECT task_id, sample, step, record_json FROM turn"
            " WHERE run_id = 'he-serial1' AND stage = 'completion'",
            "SELECT task_id, sample, step, role, usd + replayed_usd FROM llm_call"
            " WHERE run_id = 'he-serial1'",
        )

    def replay(self, results: list[tuple[str, float, float, list[an.ReplayRow]]]) -> None:
        print("\n== b. allocation replayed over the stored samples (uniform k = 16)")
        self.parts.append("## b. Allocation, replayed over the stored samples\n")
        self.parts.append(
            "Samples are drawn in stored order as if live. Two folds of 40 problems: each fold's "
            "prior and signal error rates come from the other fold's first 8 samples. "
            "Cost ratio: the cheapest adaptive threshold whose coverage reaches uniform-16's, "
            "over uniform-16's cost.\n"
        )
        rows = []
        best = float("inf")
        for name, fp, fn, rr in results:
            for r in rr:
                rows.append(
                    (
                        name,
                        f"{fp:.2f}/{fn:.2f}",
                        r.policy,
                        f"{r.result.samples:.1f}",
                        f"{r.result.cost * 1e3:.3f}",
                        f"{r.result.coverage:.3f}",
                        f"{r.result.score:.3f}",
                        f"{r.cost_ratio:.2f}",
                    )
                )
                if r.policy.startswith("adaptive") and r.cost_ratio == r.cost_ratio:
                    best = min(best, r.cost_ratio)
        self.numbers["adaptive_cost_ratio"] = best
        self._table(
            [
                "signal",
                "FP/FN",
                "policy",
                "samples/problem",
                "mUSD",
                "coverage",
                "selected",
                "cost ratio to reach uniform coverage",
            ],
            rows,
        )

    def selection(
        self,
        rows: list[tuple[int, float, float, float, float]],
        asserts: dict[str, list[tuple[str, str]]],
    ) -> None:
        print("\n== c. selection: generated asserts x candidates")
        self.parts.append("## c. Selection\n")
        counts = [len(v) for v in asserts.values()]
        self.parts.append(
            f"Asserts per problem (distinct, from the serial run's test-writing turn): mean "
            f"{np.mean(counts):.1f}, none for {sum(1 for c in counts if c == 0)} problems. "
            "CodeT groups candidates by the asserts they pass and their outputs on the asserts' "
            "inputs; with no asserts it falls back to the largest group of identical completions.\n"
        )
        self._table(
            [
                "k",
                "pass@1 (random pick)",
                "majority of identical",
                "CodeT dual agreement",
                "coverage",
            ],
            [(k, f"{p:.3f}", f"{v:.3f}", f"{c:.3f}", f"{cov:.3f}") for k, p, v, c, cov in rows],
        )
        _k, pass1, _vote, codet, _cov = rows[-1]
        self.numbers["selected_minus_pass1"] = 100 * (codet - pass1)
        fig, ax = plt.subplots(figsize=(6, 4))
        ks = [r[0] for r in rows]
        for idx, label in ((1, "random pick"), (2, "majority"), (3, "CodeT"), (4, "coverage")):
            ax.plot(ks, [r[idx] for r in rows], "o-", label=label)
        ax.set_xscale("log", base=2)
        self._figure(fig, ax, "selection.png", "selection", "k", "score")

    def verifier(self, rows: Sequence[tuple[int, str, dict[str, float]]], model: str) -> None:
        """The judge (P(YES) from first-token log-probabilities) over CodeT's top 3."""
        print("\n== c2. a verifier the small model serves: judge over the top 3")
        self.parts.append("### A verifier the small model can serve\n")
        self.parts.append(
            f"The judge ({model} itself, scoring P(YES) from its first token's log-probabilities)"
            " over the top 3 CodeT clusters of each problem, by re-selection of the stored"
            " samples (`agentlab select --from run:he-scaling --k K --set ...`): no new sample,"
            " only the judge's calls.\n"
        )
        self._table(
            ["k", "pass@1 (random pick)", "CodeT", "judge", "coverage", "judge calls", "judge $"],
            [
                (
                    k,
                    f"{r['pass1']:.3f}",
                    f"{r.get('pick:codet', 0.0):.3f}",
                    # the judge scoring by log-probabilities stores its picks as `logprob`
                    f"{r.get('pick:logprob', r.get('pick:judge', float('nan'))):.3f}",
                    f"{r['coverage']:.3f}",
                    int(r["calls"]),
                    f"{r['usd']:.6f}",
                )
                for k, _, r in rows
            ],
        )
        if rows:
            run = rows[-1][1]
            self._sql(
                PICKS_SQL.format(run=run),
                JUDGE_CALLS_SQL.format(run=run),
                COVERAGE_SQL.format(run=run),
            )

    def planning(
        self,
        chosen: Plan,
        budget: float,
        reserve: float,
        usd_pilot: float,
        curves: Sequence[SelectionCurve],
        pilot: np.ndarray,
        realized: dict[str, float] | None,
        held: list[str],
    ) -> None:
        print("\n== d. planning: pilot on 40 problems, plan and run for 40 held-back ones")
        self.parts.append("## d. Planning on held-back problems\n")
        best = chosen.best
        eff = ", ".join(
            f"{c.method}: "
            + "/".join(f"k={k} {e:.2f}" for k, e in zip(c.ks, c.efficiency, strict=True))
            for c in curves
        )
        self.parts.append(
            f"Pilot: the first 4 samples of the 40 even-position problems ({pilot.sum()} passing "
            f"of {pilot.size}; {usd_pilot * 1e6:.1f} micro-USD per sample, measured). Selection "
            f"efficiencies measured on the pilot: {eff}. Budget {budget * 1e3:.4f} mUSD for the 40 "
            f"odd-position problems (8 pilot-priced samples each). Plan: k = {best.k}, "
            f"method {best.method}, cost {best.cost_usd * 1e3:.4f} mUSD, predicted score "
            f"{best.predicted.point:.3f} (90%: {best.predicted.low:.3f}-"
            f"{best.predicted.high:.3f}), coverage {best.coverage.point:.3f} "
            f"({best.coverage.low:.3f}-{best.coverage.high:.3f}).\n"
        )
        if realized is None:
            self.parts.append("The planned run has not been executed (--analyse-only).\n")
            return
        score = realized["selected"] if best.method == "vote" else realized["pass1"]
        inside = best.predicted.low <= score <= best.predicted.high
        cov_in = best.coverage.low <= realized["coverage"] <= best.coverage.high
        self.numbers["planned_within"] = float(inside)
        self._table(
            ["", "predicted", "90% interval", "realized", "within"],
            [
                (
                    f"score ({best.method})",
                    f"{best.predicted.point:.3f}",
                    f"{best.predicted.low:.3f}-{best.predicted.high:.3f}",
                    f"{score:.3f}",
                    inside,
                ),
                (
                    "coverage",
                    f"{best.coverage.point:.3f}",
                    f"{best.coverage.low:.3f}-{best.coverage.high:.3f}",
                    f"{realized['coverage']:.3f}",
                    cov_in,
                ),
                (
                    "spend (mUSD)",
                    f"{best.cost_usd * 1e3:.4f}",
                    f"cap {budget * 1e3:.4f}",
                    f"{realized['spent'] * 1e3:.4f}",
                    realized["spent"] <= budget + 1e-12,
                ),
            ],
        )
        self._sql(PLANNED_SQL.format(run="he-plan"), data.RUN_SQL.format(run="he-plan"))

    def finish(self, seconds: float, result: str) -> None:
        self.parts.append(f"Analysis took {seconds:.0f} s. {result}\n")
        path = self.out / "results.md"
        path.write_text(
            "# HumanEval study (generated by experiments/humaneval_study.py)\n\n"
            + "\n".join(self.parts)
        )
        print(f"\nwrote {path} and figures in {self.out}")
