"""The eval script a current-format instance runs: the harness's additions, strict's exports.
(The engine-backed runs are in test_side_by_side_docker.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentlab.tasks import current, scripts
from agentlab.tasks.swebench import SWEInstance

SCRIPT = (
    "#!/bin/bash\nset -uxo pipefail\nsource /opt/miniconda3/bin/activate\n"
    "conda activate testbed\ncd /testbed\n: '>>>>> Start Test Output'\n{cmd}\n"
    ": '>>>>> End Test Output'\ngit checkout abc tests/test_x.py\n"
)


def _instance(cmd: str, image: str = "swebench/sweb.eval.x86_64.o_1776_r-1:latest") -> SWEInstance:
    return SWEInstance.model_validate(
        {
            "instance_id": "o__r-1",
            "repo": "o/r",
            "base_commit": "abcdef",
            "image": image,
            "eval_script": SCRIPT.format(cmd=cmd),
            "log_parser": "parse_log_pytest",
        }
    )


def test_exit_code_recorded_after_the_end_marker_and_assets_before_the_start() -> None:
    inst = _instance("pytest -rA tests/test_x.py")
    lines = current.prepare_script(inst, ["cp /a tests/a.png"]).splitlines()
    start = next(n for n, line in enumerate(lines) if "Start Test Output" in line)
    end = next(n for n, line in enumerate(lines) if "End Test Output" in line)
    assert lines[start - 1] == "cp /a tests/a.png"
    assert lines[end - 1] == "SWEBENCH_TEST_EXIT_CODE=$?"
    assert lines[end + 1] == 'echo ">>>>> Test Exit Code: $SWEBENCH_TEST_EXIT_CODE"'
    assert "agentlab_report" not in "\n".join(lines)  # harness mode adds no reporter


def test_strict_runs_the_test_command_unprivileged_after_the_activation() -> None:
    inst = _instance("pytest -rA tests/test_x.py")
    assert current.strict_runner(inst) == "pytest"
    script = current.prepare_script(inst, [], "pytest", plugins=("xdist",), timeout=60)
    assert script.index("conda activate") < script.index("setpriv")
    assert "pytest -rA" not in script  # moved to the file nobody runs
    assert "pytest -rA tests/test_x.py" in current.test_file(inst, "pytest")
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1" in script
    assert "-p agentlab_report -p xdist" in script
    lines = script.splitlines()
    end = next(n for n, line in enumerate(lines) if "End Test Output" in line)
    assert lines[end - 2 : end] == ["fi", "SWEBENCH_TEST_EXIT_CODE=$?"]
    # The exports, after an activation-like rewrite of the environment, in a real shell.
    exports = "\n".join(scripts.strict_env(("xdist",)))
    out = subprocess.run(
        ["bash", "-c", f"set -u; export PYTEST_ADDOPTS=-q PYTHONPATH=/env\n{exports}\n"
         'echo "$PYTEST_ADDOPTS|$PYTHONPATH|$PYTEST_DISABLE_PLUGIN_AUTOLOAD"'],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == "-p agentlab_report -p xdist -q|/opt/agentlab:/env|1"
    unset = subprocess.run(
        ["bash", "-c", f"set -u; unset PYTEST_ADDOPTS PYTHONPATH\n{exports}\n"
         'echo "$PYTEST_ADDOPTS|$PYTHONPATH"'],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert unset == "-p agentlab_report -p xdist|/opt/agentlab"


def test_the_strict_block_keeps_the_test_commands_exit_status(tmp_path: Path) -> None:
    """$? after the block is the tests' exit status. Only the root branch (no ``setpriv`` in
    the image) runs here: the other kills every ``nobody`` process, which is for a sandbox."""
    block = current.strict_block((), 60)
    assert block[0].startswith("if command -v setpriv") and block[-1] == "fi"
    assert block[block.index("else") - 1] == "(exit $agentlab_rc)"
    tests = tmp_path / "tests.sh"
    tests.write_text("exit 3\n")
    root = block[block.index("else") + 1 : -1]
    text = "\n".join(root).replace(current.TESTS_FILE, str(tests))
    done = subprocess.run(["bash", "-c", f"{text}\necho rc=$?"], capture_output=True, text=True)
    assert done.stdout.strip().splitlines() == [current.ROOT_NOTE, "rc=3"]


def test_unittest_scripts_run_the_strict_runner_with_their_interpreter() -> None:
    inst = _instance("python3 -m unittest -v tests.test_x")
    assert current.strict_runner(inst) == "unittest"
    tests = current.test_file(inst, "unittest")
    assert "python3 -m agentlab_unittest -v tests.test_x" in tests
    assert "-m unittest" not in tests


def test_other_runners_get_the_harness_parser() -> None:
    assert current.strict_runner(_instance("./tests/runtests.py --verbosity 2 auth")) is None
    assert current.strict_runner(_instance("go test -v ./...")) is None


def test_namespace_swaps_the_registry_namespace_only() -> None:
    inst = _instance("pytest")
    assert current.official_image(inst, None) == inst.image
    assert current.official_image(inst, "myorg") == "myorg/sweb.eval.x86_64.o_1776_r-1:latest"
    local = _instance("pytest", image="sweb.eval.x86_64.o_1776_r-1:latest")
    assert current.official_image(local, "myorg") == local.image
