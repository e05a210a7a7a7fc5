"""`agentlab view` as a user starts it: loopback by default, a warning for any other address,
a one-line error for a store that does not exist."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from agentlab.store import open_store
from tests.viewer.conftest import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _start(*args: str, cwd: Path | None = None) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "view", "--port", "0", *args],
        stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd,
    )
    assert proc.stderr is not None
    seen = ""
    for line in proc.stderr:
        seen += line
        found = re.search(r"http://(\S+?):(\d+)/", line)
        if found:
            return proc, found.group(1), seen
    proc.wait()
    raise AssertionError(f"agentlab view printed no address: {seen}")


def test_view_binds_loopback_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    proc, host, seen = _start("--store", url)
    try:
        assert host == "127.0.0.1" and "warning" not in seen
        port = re.search(r":(\d+)/", seen).group(1)  # type: ignore[union-attr]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=30) as resp:
            assert json.loads(resp.read())["runs"] == []
        # A page on another site that rebinds its name to 127.0.0.1 gets nothing.
        rebound = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/runs", headers={"Host": f"evil.example:{port}"}
        )
        try:
            urllib.request.urlopen(rebound, timeout=30)
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        else:
            raise AssertionError("a request for another host name was answered")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_view_warns_when_bound_elsewhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    proc, host, seen = _start("--store", url, "--host", "0.0.0.0")
    try:
        assert host == "0.0.0.0"
        assert "warning" in seen and "anyone who can reach this address" in seen
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_view_refuses_a_missing_store(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "view", "--store", str(missing)],
        capture_output=True, text=True, env=ENV, timeout=60,
    )
    assert done.returncode == 2
    assert f"no store at {missing}" in done.stderr and "Traceback" not in done.stderr
    assert not missing.exists()  # the viewer never creates a store


@pytest.mark.docker
@pytest.mark.slow
def test_demo_ends_with_the_view_command(base_image: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "demo", "--skip-local", "--folder", "demo"],
        capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last == "browse it: agentlab view --store sqlite:///demo/demo.db"
    proc, host, _seen = _start("--store", "sqlite:///demo/demo.db", cwd=tmp_path)
    proc.terminate()
    proc.wait(timeout=30)
    assert host == "127.0.0.1"
