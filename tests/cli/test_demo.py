"""`agentlab demo` tells its whole story: pilot, fit, plan, adaptive run under a cap, selection,
predicted vs realized, dollars. With --scripted (reference answers) on the real Docker engine,
so CI checks the plumbing without the local model; the local model's run is in docs/results.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_demo_story_runs_under_its_cap(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "demo", "--scripted", "--folder", "demo"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250"},  # no wrapping inside the one-line steps
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stderr
    steps = [
        s for s in ("1 pilot", "2 fit", "3 plan", "4 run", "5 result", "6 dollars") if s in text
    ]
    assert len(steps) == 6, text[-3000:]
    spent, cap = re.search(r"\$([0-9.]+) of the \$([0-9.]+) cap \(under\)", text).groups()  # type: ignore[union-attr]
    assert 0 < float(spent) <= float(cap)
    planned_k = int(re.search(r"buys k = (\d+) samples", text).group(1))  # type: ignore[union-attr]
    drawn, uniform = map(
        int, re.search(r"(\d+) samples drawn where uniform k = \d+ draws (\d+)", text).groups()
    )  # type: ignore[union-attr]
    assert uniform == planned_k * 6 and 6 <= drawn <= uniform
    # Every number came from the store: the demo's runs are there.
    rows = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentlab",
            "sql",
            "--store",
            "sqlite:///demo/demo.db",
            "--format",
            "csv",
            "SELECT count(*) FROM run WHERE name IN ('demo-pilot', 'demo-planned')",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert rows.stdout.strip().splitlines()[-1] == "2"
