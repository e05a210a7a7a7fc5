"""``agentlab budget replay``: allocation policies re-run over a stored run, no model called.

The policy logic is pure (:mod:`agentlab.budget.replay`) and the rows come from
:func:`agentlab.store.budget_queries.read_stored_samples`; this module adds the one thing
that needs the coordinator: which task kind produced the run, so its ``own_test_signal``
reads the stored steps the same way a live adaptive run did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from agentlab.budget.replay import (
    SIGNALS,
    PolicyKnowledge,
    ReplayMatrix,
    ReplayReport,
    agreement_signal,
    replay_policies,
)
from agentlab.config import ExperimentConfig
from agentlab.coordinator.kinds import kind_for
from agentlab.errors import ConfigError
from agentlab.store.budget_queries import OwnTest, StoredSamples, read_stored_samples
from agentlab.store.db import Store
from agentlab.store.tables import Run


@dataclass(frozen=True)
class Replay:
    """A replay's table and where its inputs came from."""

    report: ReplayReport
    samples: StoredSamples
    signal: str
    cost_note: str  # how a sample's cost was taken from the store
    signals: list[list[bool]]  # the signal per problem and sample, in stored order


def own_test_of(store: Store, run_id: str) -> OwnTest:
    """The own-test signal of the task kind that made ``run_id`` (an ``agentlab run``)."""
    run = store.call(lambda s: s.get(Run, run_id))
    if run is None:
        raise ConfigError(f"run {run_id!r} is not in the store; list runs with `agentlab sql`")
    if run.kind != "run":
        raise ConfigError(
            f"run {run_id!r} is an `agentlab {run.kind}` run: it stores no trajectories, so it "
            "has no own-test signal; use --signal agreement or none"
        )
    try:
        config = ExperimentConfig.model_validate(json.loads(run.config_json)["experiment"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"run {run_id!r}: its stored config cannot be read ({exc})") from exc
    return kind_for(config.dataset).own_test_signal


def load_matrix(store: Store, run_id: str, signal: str) -> tuple[ReplayMatrix, StoredSamples, str]:
    """The replay matrix of ``run_id`` under ``signal``, its stored rows, and a cost note."""
    if signal not in SIGNALS:
        raise ConfigError(f"--signal {signal!r}: choose one of {', '.join(SIGNALS)}")
    own = own_test_of(store, run_id) if signal == "own-tests" else None
    samples = read_stored_samples(store, run_id, own)
    correct = np.asarray(samples.resolved, dtype=bool)
    if signal == "own-tests":
        assert samples.own_test is not None
        sig = np.asarray(samples.own_test, dtype=bool)
    elif signal == "agreement":
        sig = agreement_signal(samples.patch_sha)
    else:
        sig = np.zeros_like(correct)
    usd = np.asarray(samples.usd, dtype=np.float64)
    if usd.sum() > 0:
        unit = "USD"
        note = (
            "stored dollars: the sample's llm_call.usd, the problem's shared context calls on "
            "its first sample, its sandbox_exec.usd split evenly over its samples"
        )
        cost = usd
    else:
        tokens = np.asarray(samples.tokens, dtype=np.float64)
        if tokens.sum() <= 0:
            raise ConfigError(
                f"run {run_id!r} stores neither dollars nor tokens for its samples; "
                "nothing to price a replay with"
            )
        unit, cost = "tokens", tokens
        note = (
            "every stored dollar is $0 (a free local model): cost unit is tokens "
            "(prompt + completion of the sample's llm_call rows), not dollars"
        )
    return ReplayMatrix.build(correct, sig, cost, unit), samples, note


def knowledge_from(
    store: Store, source_run: str, signal: str, matrix: ReplayMatrix | None = None
) -> PolicyKnowledge:
    """The policy's prior and verifier rates fitted on ``source_run``'s hidden outcomes.

    With ``matrix`` (the replayed run itself) they come from the run being replayed, which a
    live run could not know: the source label says so.
    """
    if matrix is None:
        matrix, samples, _ = load_matrix(store, source_run, signal)
        where = f"pilot run {source_run} ({len(samples.instance_ids)} x {samples.samples})"
    else:
        shape = matrix.correct.shape
        where = (
            f"this run's own hidden-test outcomes ({shape[0]} x {shape[1]}; optimistic: a live "
            "run would not know them; pass --prior-run PILOT)"
        )
    fp, fn = matrix.verifier_rates()
    return PolicyKnowledge(matrix.prior(), fp, fn, where)


def replay_run(
    store: Store,
    run_id: str,
    *,
    policy: str,
    k: int | None = None,
    signal: str = "own-tests",
    cap: float | None = None,
    seed: int | None = None,
    prior_run: str | None = None,
) -> Replay:
    """Uniform-k (default: every stored sample), ``policy`` and the oracle over ``run_id``.

    Samples are drawn in stored order (sample index), or in a seeded random order per
    problem when ``seed`` is given. No model is called; nothing is written.
    """
    matrix, samples, note = load_matrix(store, run_id, signal)
    signals = matrix.signal.tolist()
    k = samples.samples if k is None else k
    if seed is not None:
        matrix = matrix.shuffled(seed)
    # The oracle row is always shown, so a prior is always fitted.
    if matrix.correct.shape[0] < 5 and prior_run is None:
        raise ConfigError(
            f"run {run_id!r} has {matrix.correct.shape[0]} graded problems; fitting the "
            "policy's prior needs at least 5 (or pass --prior-run PILOT)"
        )
    knowledge = (
        knowledge_from(store, prior_run, signal)
        if prior_run is not None
        else knowledge_from(store, run_id, signal, matrix)
    )
    report = replay_policies(matrix, policy=policy, k=k, knowledge=knowledge, cap=cap)
    return Replay(report, samples, signal, note, signals)
