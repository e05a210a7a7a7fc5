"""Fixtures of the viewer tests: a store written by a real `agentlab run`, a live server, and
Debian's chromium driven headless by Playwright (never a downloaded browser).

Where AGENTLAB_REQUIRE_BROWSER=1 (CI sets it) a missing chromium or Playwright FAILS the run;
elsewhere the browser tests are skipped with a line saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agentlab.viewer.api import Api
from agentlab.viewer.db import ReadOnlyStore
from agentlab.viewer.server import make_server

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AGENTLAB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "viewer"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PROBLEMS = ["agentlab-mini__confini-1", "agentlab-mini__spans-1"]


def _unavailable(reason: str) -> None:
    if os.environ.get("AGENTLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"AGENTLAB_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


ADAPTIVE = (
    "budget: {policy: {type: adaptive, min_agreement: 2, threshold: 0.0, sample_usd: 0.5,"
    " false_positive: 0.1, false_negative: 0.2,"
    " prior: {zero_mass: 0.25, alpha: 0.5, beta: 0.6}}}\n"
)


def _config(folder: Path, name: str, k: int, policy: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        policy +
        f"run_name: {name}\nseed: 0\n"
        f"dataset: {{name: agentlab-mini, instances: [{', '.join(PROBLEMS)}]}}\n"
        f"endpoints: {REPO / 'configs' / 'models' / 'scripted.yaml'}\n"
        "models: {default: {endpoint: scripted, temperature: 0.0}}\n"
        f"sampling: {{k: {k}, n: 1}}\ncontext: {{token_budget: 8000}}\n"
        "concurrency: {llm_calls: 8, sandboxes: 2}\n"
    )
    return path


@pytest.fixture(scope="session")
def real_store(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store made by the real CLI (scripted model, real Docker): view-a (k=2,
    uniform), view-b (up to k=3, the adaptive policy: it records decisions) and view-sel, a
    selection over view-a's candidates (a vote matrix)."""
    folder = tmp_path_factory.mktemp("viewer-store")
    url = f"sqlite:///{folder / 'runs.db'}"
    commands = [
        ["run", str(_config(folder, run_id, k, policy)), "--store", url, "--run-id", run_id]
        for run_id, k, policy in (("view-a", 2, ""), ("view-b", 3, ADAPTIVE))
    ]
    commands.append(["select", "--from", "run:view-a", "--store", url, "--run-id", "view-sel"])
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "agentlab", *command],
            capture_output=True, text=True, cwd=folder, timeout=900,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return url


@contextmanager
def serve(url: str) -> Iterator[str]:
    """The viewer over ``url`` on a free loopback port, in a thread; yields its base URL."""
    db = ReadOnlyStore(url)
    server = make_server(Api(db), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        db.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian chromium under Playwright, with a fresh profile.

    Module-scoped: Playwright's sync API keeps an event loop marked running in this thread
    while it is started, which would break any asyncio test that ran after it in the session.
    """
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        _unavailable(f"no chromium at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is missing: pip install 'agentlab[browser]'")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new tab; closed after the test."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (a gitignored folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ready(page: Any) -> None:
    """Wait until the app has rendered the current route (it marks <body data-ready=hash>)."""
    page.wait_for_function(
        "document.body.getAttribute('data-ready') === location.hash", timeout=60_000
    )
