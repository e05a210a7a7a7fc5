"""Candidate code cannot make root run its code through git, on a real engine (toy dataset).

Each prediction runs in a sandbox this test opens itself, so that after grading it can look for
the marker files an attack's payload would leave if root ever executed it. The payload also
forges a nonce-tagged PASSED line for the failing test, which root (unlike the code under test)
can read the nonce for: had it run, a candidate that does not fix the bug would be resolved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages
from agentlab.protocols import Sandbox
from agentlab.tasks import grading
from agentlab.tasks.harness import EvalConfig, EvalResult, InstanceImages, run_in_sandbox
from agentlab.tasks.harness import sandbox_spec as eval_sandbox_spec
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, load_dataset
from tests.tasks import toy

pytestmark = pytest.mark.docker

# Run by root, if ever: forge a result with the nonce from the results file, leave a marker.
PAYLOAD = """#!/bin/sh
n=$(grep -o '@@[0-9a-f]*' /tmp/agentlab_results | head -n1)
[ -n "$n" ] && printf '\\n%s PASSED tests/test_calc.py::test_add\\n' "$n" >> /tmp/agentlab_results
[ "$(id -u)" = 0 ] && touch /pwned-$(basename "$0")
cat
"""

# Runs when the tests import calc (as the user the tests run as): plants a core.fsmonitor, a
# hook, and (if .git could be renamed) a repository of its own; notes what was refused in a
# file (pytest captures what a module prints at collection).
ATTACK = """
import os, shutil


def _note(*words):
    with open("/testbed/attack.log", "a") as fh:
        fh.write(" ".join(words) + "\\n")


def _plant(path, text, mode=0o755):
    try:
        with open(path, "a") as fh:
            fh.write(text)
        os.chmod(path, mode)
        _note("PLANTED", path)
    except OSError as exc:
        _note("REFUSED", path, type(exc).__name__)


_plant("/testbed/fsmon.sh", PAYLOAD)
_plant("/testbed/.git/config", "[core]\\n\\tfsmonitor = /testbed/fsmon.sh\\n", 0o644)
_plant("/testbed/.git/hooks/post-checkout", PAYLOAD)
try:
    os.rename("/testbed/.git", "/testbed/.git-real")
    shutil.copytree("/testbed/.git-real", "/testbed/.git")
    _plant("/testbed/.git/config", "[core]\\n\\tfsmonitor = /testbed/fsmon.sh\\n", 0o644)
except OSError as exc:
    _note("REFUSED", "rename", type(exc).__name__)
"""


def _attacking(body: str) -> str:
    return body + f"\nPAYLOAD = {PAYLOAD!r}\n" + ATTACK


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    toy.build(root)
    return root


async def _evaluate(dataset: Dataset, patch: str, run_id: str) -> tuple[EvalResult, str, str, str]:
    """Grade ``patch`` in a fresh sandbox; also return the markers, .git/config and the
    attack's notes left there."""
    from agentlab.sandbox.docker import DockerBackend

    config = EvalConfig(run_id=run_id, timeout=30, memory_mb=512)
    instance = dataset.by_id()[toy.INSTANCE_ID]
    image = await InstanceImages(ProviderImages(), config).image_for(dataset, instance)
    async with DockerBackend().open(eval_sandbox_spec(config, image, toy.INSTANCE_ID)) as sb:
        prediction = Prediction(instance_id=toy.INSTANCE_ID, model_name="m", patch=patch)
        result = await run_in_sandbox(sb, instance, dataset.spec_for(instance), prediction, config)
        markers = await _sh(sb, "ls / | grep '^pwned' || true")
        git_config = await _sh(sb, "cat /testbed/.git/config")
        notes = await _sh(sb, "cat /testbed/attack.log 2>/dev/null || true")
    return result, markers, git_config, notes


async def _sh(sandbox: Sandbox, script: str) -> str:
    done = await sandbox.exec(["bash", "-c", script])
    return done.stdout


@pytest.mark.parametrize(
    ("body", "outcome"),
    [(toy.CALC, grading.UNRESOLVED), (toy.FIXED, grading.RESOLVED)],
    ids=["bug-kept", "bug-fixed"],
)
async def test_code_under_test_cannot_plant_git_config_or_hooks(
    toy_root: Path, base_image: str, run_id: str, body: str, outcome: str
) -> None:
    dataset = load_dataset(toy_root / "toy")
    patch = toy.make_patch(toy_root, {"calc.py": _attacking(body)})
    result, markers, git_config, notes = await _evaluate(dataset, patch, run_id)
    assert result.grade.outcome == outcome, result.logs.test_output[-3000:]
    assert markers == ""
    assert "fsmonitor" not in git_config
    assert notes.splitlines() == [
        "PLANTED /testbed/fsmon.sh",  # the worktree stays writable
        "REFUSED /testbed/.git/config PermissionError",
        "REFUSED /testbed/.git/hooks/post-checkout PermissionError",
        "REFUSED rename PermissionError",
    ]


async def test_a_patch_cannot_write_into_git_through_gnu_patch(
    toy_root: Path, base_image: str, run_id: str
) -> None:
    """``git apply`` refuses ``.git/`` paths; GNU patch, the last fallback, does not, and decodes
    C-quoted names, so a name check on the diff misses ``"b/\\056git/config"``. Here the diff
    defines a smudge filter in ``.git/config`` that root's next checkout would run."""
    dataset = load_dataset(toy_root / "toy")
    planted = toy.make_patch(
        toy_root, {"evil.sh": PAYLOAD, ".gitattributes": "* filter=evil\n"}
    ).replace("new file mode 100644\n", "new file mode 100755\n")
    config_hunk = (
        '--- "a/\\056git/config"\n'
        '+++ "b/\\056git/config"\n'
        "@@ -1 +1,3 @@\n"
        '+[filter "evil"]\n'
        "+\tsmudge = /testbed/evil.sh\n"
        " [core]\n"
    )
    result, markers, git_config, _ = await _evaluate(dataset, planted + config_hunk, run_id)
    assert result.grade.outcome == grading.PATCH_FAILED, result.logs.run_log
    assert markers == ""
    assert "evil" not in git_config
