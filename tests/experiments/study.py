"""Running an experiments/ study script in its --smoke mode, as the study tests do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(script: str, tmp_path: Path, *extra: str) -> str:
    """``experiments/<script> --smoke`` on a scratch store and output folder; its stdout."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / script),
            "--smoke",
            "--store",
            f"sqlite:///{tmp_path / 'study.db'}",
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout
