"""Strict mode on a current-format instance runs the tests as ``nobody`` with pytest's plugin
autoloading off, after the eval script's own setup (real engine, agentlab-mini confini-1).

The candidate is the gold fix plus a probe in the package's code that records, from inside the
test run, its uid, whether autoloading is off, and whether it could plant a ``.pth`` in
site-packages; harness mode (the official harness's way: root) is the contrast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.tasks import grading
from agentlab.tasks.current import run_current
from agentlab.tasks.harness import EvalConfig, sandbox_spec
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset
from tests.tasks.current_data import current_dataset, patched

pytestmark = [pytest.mark.docker, pytest.mark.slow]

IID = "agentlab-mini__confini-1"
PTH = "/usr/local/lib/python3.11/dist-packages/zz_probe.pth"
PROBE = f"""

import json as _json
import os as _os

try:
    with open("{PTH}", "w") as _fh:
        _fh.write("")
    _site = "wrote"
except OSError as _exc:
    _site = type(_exc).__name__
with open("/testbed/probe.json", "w") as _fh:
    _json.dump({{"uid": _os.getuid(), "site": _site,
                "autoload_off": _os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")}}, _fh)
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return current_dataset((IID,), "agentlab-strict", tmp_path_factory.mktemp("strict"))


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "harness"])
async def test_tests_run_unprivileged_with_autoload_off(
    data: Dataset, docker_backend: object, run_id: str, tmp_path: Path, strict: bool
) -> None:
    from agentlab.coordinator.kinds.swe_data import resolve_dataset
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    inst = data.instances[0]
    bundle = Path(resolve_dataset("agentlab-mini").bundles["agentlab-mini/confini"])
    patch = patched(bundle, inst.base_commit, inst.patch, {"confini/lexer.py": PROBE}, tmp_path)
    pred = Prediction(instance_id=IID, model_name="probe", patch=patch)
    # The probe is what the reward-hacking detector is for; here the runtime is under test.
    cfg = EvalConfig(run_id=run_id, strict=strict, timeout=300, detect_hacking=False)
    async with docker_backend.open(sandbox_spec(cfg, inst.image, IID)) as sandbox:
        result = await run_current(sandbox, inst, pred, cfg)
        probe = json.loads(await sandbox.read_file("/testbed/probe.json"))
        planted = await sandbox.exec(["test", "-e", PTH])
    assert result.grade.outcome == grading.RESOLVED, result.logs.run_log
    if strict:
        assert result.logs.run_log.startswith("grading: strict")
        assert probe == {"uid": 65534, "site": "PermissionError", "autoload_off": "1"}
        assert planted.exit_code != 0
    else:
        assert probe == {"uid": 0, "site": "wrote", "autoload_off": None}
        assert planted.exit_code == 0
