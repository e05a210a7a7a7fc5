"""The harness end to end on a real engine and a real SQLite store, with a toy dataset.

One strict run holds well-behaved predictions (gold, empty, regressing, malformed) next to
hostile ones (forged output, test tampering, huge binary output, fork/memory/disk/CPU bombs):
each hostile one ends unresolved or tampered, and the well-behaved ones stay correctly graded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentlab.coordinator.evaluation.swe import SWERun, run_swe
from agentlab.coordinator.kinds.swe_data import ProviderImages
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import official
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.tasks.official import SpecFields
from agentlab.tasks.swebench import load_dataset
from tests.tasks import toy

pytestmark = pytest.mark.docker

REPORT_KEYS = {
    "patch_is_None",
    "patch_exists",
    "patch_successfully_applied",
    "resolved",
    "infra_failure",
}


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    toy.build(root)
    return root


def _predictions(root: Path, patches: dict[str, str | None]) -> Path:
    path = root / f"preds-{len(patches)}-{abs(hash(tuple(patches)))}.jsonl"
    lines = [
        json.dumps({"instance_id": toy.INSTANCE_ID, "model_name_or_path": m, "model_patch": p})
        for m, p in patches.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def _run(
    root: Path, patches: dict[str, str | None], run_id: str, tmp: Path, strict: bool = True
) -> tuple[Any, dict[str, dict[str, Any]]]:
    dataset = load_dataset(root / "toy")
    config = EvalConfig(run_id=run_id, strict=strict, timeout=20, memory_mb=512, retries=2)
    run = SWERun(dataset, str(_predictions(root, patches)), config, tmp / "reports", 4)
    store = open_store(f"sqlite:///{tmp / 'eval.db'}")
    try:
        from agentlab.sandbox.docker import DockerBackend

        summary = await run_swe(
            run, DockerBackend(), InstanceImages(ProviderImages(), config), EvalStore(store)
        )
        rows = {r.model_name: r for r in await EvalStore(store).outcomes(run_id)}
    finally:
        store.close()
    return summary, rows  # type: ignore[return-value]


async def test_strict_run_grades_good_and_hostile_predictions(
    toy_root: Path, tmp_path: Path, base_image: str, run_id: str
) -> None:
    patches: dict[str, str | None] = {
        "gold": toy.GOLD,
        "empty": "",
        "missing": None,
        "regress": toy.REGRESS,
        "malformed": toy.MALFORMED,
        "tamper-test": toy.make_patch(toy_root, {"tests/test_calc.py": toy.TESTS + "\n# x\n"}),
        "tamper-conftest": toy.make_patch(toy_root, {"conftest.py": "import pytest\n"}),
    }
    for name, body in toy.HOSTILE_BODIES.items():
        patches[name] = toy.make_patch(toy_root, {"calc.py": body})
    summary, rows = await _run(toy_root, patches, run_id, tmp_path)
    outcome = {m: r.outcome for m, r in rows.items()}
    assert outcome == {
        "gold": "resolved",
        "empty": "empty_patch",
        "missing": "empty_patch",
        "regress": "unresolved",
        "malformed": "patch_failed",
        "tamper-test": "tampered",
        "tamper-conftest": "tampered",
        "forge": "suspicious",  # it names the results file: the detector reports it
        "bigout": "resolved",
        "forkbomb": "unresolved",
        "membomb": "unresolved",
        "diskbomb": "unresolved",
        "cpubomb": "unresolved",
    }
    gold_report = rows["gold"].report[toy.INSTANCE_ID]
    assert set(gold_report) == REPORT_KEYS | {"tests_status"}
    assert gold_report["tests_status"]["FAIL_TO_PASS"] == {"success": toy.F2P, "failure": []}
    # As the harness: a patch that does not apply gets no report.json and is an error id.
    assert not rows["malformed"].report
    assert summary.reports["malformed"]["error_ids"] == [toy.INSTANCE_ID]
    regress = rows["regress"].report[toy.INSTANCE_ID]["tests_status"]["PASS_TO_PASS"]
    assert "tests/test_calc.py::test_mul" in regress["failure"]
    gold_dir = tmp_path / "reports/logs/run_evaluation" / run_id / "gold" / toy.INSTANCE_ID
    assert {"patch.diff", "eval.sh", "test_output.txt", "report.json"} <= {
        p.name for p in gold_dir.iterdir()
    }
    big = (
        (
            tmp_path
            / "reports/logs/run_evaluation"
            / run_id
            / "bigout"
            / toy.INSTANCE_ID
            / "test_output.txt"
        )
        .stat()
        .st_size
    )
    assert big < 16 * 1024 * 1024  # 60 MB of output was capped
    assert summary.reports["gold"]["resolved_ids"] == [toy.INSTANCE_ID]


async def test_swebench_mode_reproduces_the_harness_including_forged_lines(
    toy_root: Path, tmp_path: Path, base_image: str, run_id: str
) -> None:
    forge = toy.make_patch(toy_root, {"calc.py": toy.HOSTILE_BODIES["forge"]})
    _, rows = await _run(
        toy_root, {"gold": toy.GOLD, "forge": forge}, run_id, tmp_path, strict=False
    )
    assert rows["gold"].outcome == "resolved"
    # The forgery prints a PASSED line at exit. swebench 5.x cross-checks printed results
    # against the test command's recorded exit code, so it is no longer fooled here; harness
    # mode must grade the saved log exactly as the package's own get_eval_report does.
    log_dir = tmp_path / "reports/logs/run_evaluation" / run_id / "forge" / toy.INSTANCE_ID
    log = (log_dir / "test_output.txt").read_text()
    assert ">>>>> Test Exit Code: 1" in log
    assert "PASSED tests/test_calc.py::test_add" in log
    if official.available():
        fields = SpecFields(
            toy.INSTANCE_ID,
            fail_to_pass=toy.F2P,
            pass_to_pass=toy.P2P,
            log_parser="parse_log_pytest",
        )
        assert rows["forge"].report == official.eval_report(fields, forge, log)
    assert rows["forge"].outcome == "unresolved"
