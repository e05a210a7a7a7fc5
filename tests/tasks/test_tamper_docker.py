"""Patches that change how the tests run, in every form a patch can take, on a real engine.

Each hostile patch keeps the bug in ``calc.add`` and gets a ``fixer`` module (which replaces
``calc.add`` with a correct one) loaded before the tests: through a conftest written as a
binary patch, a pure rename or copy, a context diff (which only GNU ``patch`` applies), a new
``.pytest.ini``, a ``setup.cfg`` hunk whose context never says "pytest", or a planted
``pytest11`` entry point. Had any of them run, the test would pass; strict mode grades each
``tampered``. Controls: the gold patch, and a fix that edits ``setup.cfg`` outside pytest's
section, stay resolved.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages
from agentlab.tasks import grading
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import load_dataset
from tests.tasks import toy

pytestmark = pytest.mark.docker

FIXER = "import calc\ncalc.add = lambda a, b: a + b\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def _staged_diff(root: Path, stage: list[list[str]], *diff_args: str) -> str:
    """Run git commands in the toy repo, return the staged diff, reset the repo."""
    repo = root / "src"
    try:
        for args in stage:
            _git(repo, *args)
        return _git(
            repo, *diff_args, "diff", "--cached", "--binary", "-M100%", "-C", "--find-copies-harder"
        )
    finally:
        _git(repo, "reset", "-q", "--hard", "HEAD")
        _git(repo, "clean", "-fdq")


def _binary_conftest(root: Path) -> str:
    attrs = root / "attrs"
    attrs.write_text("conftest.py binary\n")
    (root / "src/tests/conftest.py").write_text(FIXER)
    return _staged_diff(root, [["add", "-A"]], "-c", f"core.attributesFile={attrs}")


def _context_diff(root: Path) -> str:
    work = root / "ctx"
    (work / "a").mkdir(parents=True, exist_ok=True)
    (work / "b/tests").mkdir(parents=True, exist_ok=True)
    (work / "b/tests/conftest.py").write_text(FIXER)
    done = subprocess.run(["diff", "-Nrc", "a", "b"], cwd=work, capture_output=True, text=True)
    return done.stdout


def _pure_copy(root: Path) -> str:
    (root / "src/tests/conftest.py").write_text((root / "src/calc.py").read_text())
    return _staged_diff(root, [["add", "-A"]])


def _hostile(root: Path) -> dict[str, str]:
    return {
        "binary-conftest": _binary_conftest(root),
        "pure-rename": _staged_diff(root, [["mv", "calc.py", "tests/conftest.py"]]),
        "pure-copy": _pure_copy(root),
        "context-diff": _context_diff(root),
        "dot-pytest-ini": toy.make_patch(
            root, {".pytest.ini": "[pytest]\naddopts = -p fixer\n", "fixer.py": FIXER}
        ),
        "setup-cfg-addopts": toy.make_patch(
            root, {"setup.cfg": toy.SETUP_CFG + "addopts = -p fixer\n", "fixer.py": FIXER}
        ),
        # Names neither pytest nor a pytest-only key: the check after apply compares
        # pytest's sections of setup.cfg and sees the change.
        "setup-cfg-section-line": toy.make_patch(
            root, {"setup.cfg": toy.SETUP_CFG + "    m8: marker 8\n"}
        ),
        "entry-point": toy.make_patch(
            root,
            {
                "fixer-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fixer\nVersion: 1\n",
                "fixer-1.0.dist-info/entry_points.txt": "[pytest11]\nfixer = fixer\n",
                "fixer.py": FIXER,
            },
        ),
    }


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    toy.build(root)
    return root


async def test_every_form_of_test_tampering_is_caught(
    toy_root: Path, base_image: str, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    patches = _hostile(toy_root)
    assert "GIT binary patch" in patches["binary-conftest"]
    assert "rename to tests/conftest.py" in patches["pure-rename"]
    assert "copy to tests/conftest.py" in patches["pure-copy"]
    assert "+++" not in patches["pure-rename"] + patches["pure-copy"]
    controls = {
        "gold": toy.GOLD,
        "setup-cfg-metadata": toy.make_patch(
            toy_root,
            {"calc.py": toy.FIXED, "setup.cfg": toy.SETUP_CFG + "\n[metadata]\nname = calc\n"},
        ),
    }
    dataset = load_dataset(toy_root / "toy")
    instance = dataset.by_id()[toy.INSTANCE_ID]
    config = EvalConfig(run_id=run_id, timeout=60, memory_mb=512, retries=1)
    images = InstanceImages(ProviderImages(), config)
    await images.image_for(dataset, instance)
    gate = asyncio.Semaphore(3)

    async def one(name: str, patch: str) -> tuple[str, str, str]:
        async with gate:
            prediction = Prediction(instance_id=toy.INSTANCE_ID, model_name=name, patch=patch)
            result = await evaluate(DockerBackend(), images, dataset, instance, prediction, config)
        return name, result.grade.outcome, result.logs.run_log + result.logs.test_output[-2000:]

    done = await asyncio.gather(*(one(n, p) for n, p in {**patches, **controls}.items()))
    outcomes = {name: outcome for name, outcome, _ in done}
    logs = {name: log for name, _, log in done}
    assert outcomes == {
        **{name: grading.TAMPERED for name in patches},
        "gold": grading.RESOLVED,
        "setup-cfg-metadata": grading.RESOLVED,
    }, logs
