"""``agentlab budget fit / plan / simulate`` as a user runs them, on a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from sqlmodel import Session

from agentlab.budget.simulate import SHAPES, simulate
from agentlab.store import open_store
from agentlab.store.profile_store import EndpointPrice
from agentlab.store.tables import Evaluation, LLMCall, Run


def _agentlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args], capture_output=True, text=True, timeout=300
    )


def _populate(url: str, problems: int = 60, samples: int = 8) -> None:
    out = simulate(SHAPES["codemonkeys"], problems, samples, seed=4)
    store = open_store(url)

    def add(session: Session) -> None:
        session.add(Run(id="pilot", kind="eval"))
        session.add(Run(id="tiny", kind="eval"))
        session.flush()  # the runs must exist before rows point at them
        for i, j in np.ndindex(out.correct.shape):
            resolved = bool(out.correct[i, j])
            session.add(
                Evaluation(
                    run_id="pilot",
                    instance_id=f"o__r-{i}",
                    sample=j,
                    outcome="resolved" if resolved else "unresolved",
                    resolved=resolved,
                )
            )
            session.add(
                LLMCall(run_id="pilot", role="editor", task_id=f"o__r-{i}", sample=j, usd=0.5)
            )
        session.add(Evaluation(run_id="tiny", instance_id="a", outcome="resolved", resolved=True))
        note = "price from profile profile-1 at concurrency 4 (measured level 4): 900.0 tok/s"
        session.add(EndpointPrice(run_id="pilot", endpoint="box", source="profile", note=note))

    store.call(add)
    store.close()


def test_fit_plan_and_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    _populate(url)
    png = tmp_path / "fit.png"
    fit = _agentlab("budget", "fit", "pilot", "--store", url, "--out", str(png))
    assert fit.returncode == 0, fit.stderr
    assert "power law c(k) = 10**(a * k**b)" in fit.stdout and "zero_mass" in fit.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    planned = _agentlab("budget", "plan", "--pilot", "pilot", "--budget", "200", "--store", url)
    assert planned.returncode == 0, planned.stderr
    assert "best for 200.00 USD on 60 problems" in planned.stdout
    assert "predicted score" in planned.stdout
    # Where the pilot's USD per sample came from, down to the profile that priced it.
    assert "cost per sample: 0.5 USD, MEASURED on run pilot" in planned.stdout
    assert "box: price from profile profile-1 at concurrency 4" in planned.stdout

    for args, needle in [
        (["budget", "fit", "nope", "--store", url], "not in the store"),
        (["budget", "fit", "tiny", "--store", url], "at least 5"),
        (["budget", "plan", "--pilot", "pilot", "--budget", "5", "--store", url], "raise --budget"),
    ]:
        failed = _agentlab(*args)
        assert failed.returncode == 2, failed.stdout
        assert needle in failed.stderr and "Traceback" not in failed.stderr


def test_simulate_prints_the_three_policies() -> None:
    shown = _agentlab("budget", "simulate", "--shape", "codemonkeys", "--problems", "100")
    assert shown.returncode == 0, shown.stderr
    for name in ("uniform", "adaptive", "oracle"):
        assert name in shown.stdout
    bad = _agentlab("budget", "simulate", "--shape", "flat")
    assert bad.returncode == 2 and "unknown population shape" in bad.stderr
