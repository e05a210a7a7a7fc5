"""`agentlab run` on current-format instances (agentlab-mini converted), real engine and HTTP.

The instances' eval scripts set up an environment before their tests (here an ``export``, as
official scripts ``conda activate``); trajectories start in each instance's own image at the
eval script's working directory, their tests run in that environment, and candidates are
graded by the current-format evaluation path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.agent.workspace import Workspace
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.tasks import current
from agentlab.tasks.harness import EvalConfig, sandbox_spec
from agentlab.tasks.instances import write_jsonl
from agentlab.tasks.swebench import load_dataset
from tests.coordinator.conftest import snapshot, write_experiment
from tests.tasks.current_data import current_dataset

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TWO = ["agentlab-mini__confini-1", "agentlab-mini__spans-1"]
PROBE = "export AGENTLAB_ENV_PROBE=from-the-eval-script"


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two instances in the current format, with an environment step in the eval script."""
    folder = tmp_path_factory.mktemp("current-run")
    current_dataset(tuple(TWO), "agentlab-run", folder)
    rows = [json.loads(line) for line in (folder / "instances.jsonl").read_text().splitlines()]
    for row in rows:
        row["eval_script"] = row["eval_script"].replace(
            "cd /testbed\n", f"cd /testbed\n{PROBE}\n", 1
        )
    path = folder / "activated.jsonl"
    write_jsonl(rows, path)
    return path


def test_environment_lines_keep_the_setup_and_drop_git_and_the_test_patch(
    instances: Path,
) -> None:
    inst = load_dataset(instances, offline=True).instances[0]
    lines = current.environment_lines(inst)
    assert lines == ["cd /testbed", PROBE]
    assert current.workdir(inst) == "/testbed"


async def test_workspace_tests_run_in_the_eval_scripts_environment(
    instances: Path, docker_backend: object, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    inst = load_dataset(instances, offline=True).instances[0]
    spec = sandbox_spec(EvalConfig(run_id=run_id), inst.image, inst.instance_id)
    probe = "import os, sys; print(os.environ.get('AGENTLAB_ENV_PROBE'), os.getcwd())"
    async with docker_backend.open(spec) as sandbox:
        plain = await Workspace(sandbox, repo_dir=current.workdir(inst)).run_test(probe)
        ws = Workspace(sandbox, repo_dir=current.workdir(inst),
                       prelude=tuple(current.environment_lines(inst)))  # fmt: skip
        ran = await ws.run_test(probe)
    assert plain.stdout.split() == ["None", "/testbed"]  # the control: no prelude, no env
    assert ran.stdout.split() == ["from-the-eval-script", "/testbed"]


async def test_gold_script_run_on_current_format_resolves(
    instances: Path, store: Store, tmp_path: Path, run_id: str
) -> None:
    data = load_dataset(instances, offline=True)
    with ScriptedServer(ScriptedModel(gold_rules(data))) as server:
        path = write_experiment(tmp_path, server.base_url, TWO, k=2, n=1, dataset=str(instances))
        outcome = await run_pipeline(new_request(load_experiment(path), path, run_id), store)
    assert outcome.status == "finished", outcome
    snap = snapshot(store, run_id)
    assert [c[:2] for c in snap["candidates"]] == [(t, s) for t in TWO for s in (0, 1)]
    assert all(c[5] is True for c in snap["candidates"]), snap["candidates"]
