"""Instance formats: the current official format read unchanged, hub names, the converter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.coordinator.kinds.swe_data import resolve_dataset
from agentlab.errors import DatasetError
from agentlab.tasks import instances
from agentlab.tasks.swebench import load_dataset

CURRENT = {
    "repo": "pallets/flask",
    "instance_id": "pallets__flask-5014",
    "base_commit": "7ee9ceb71e868944a46e1ff00b506772a53a4f1d",
    "patch": "diff --git a/src/flask/blueprints.py b/src/flask/blueprints.py\n",
    "test_patch": "",
    "problem_statement": "Require a non-empty name for Blueprints",
    "hints_text": "",
    "created_at": "2023-03-04T18:36:21Z",
    "version": "2.3",
    "FAIL_TO_PASS": '["tests/test_blueprints.py::test_empty_name_not_allowed"]',
    "PASS_TO_PASS": '["tests/test_blueprints.py::test_blueprint_specific_error_handling"]',
    "environment_setup_commit": "182ce3dd15dfa3537391c3efaf9c3ff407d134d4",
    "image": "swebench/sweb.eval.x86_64.pallets_1776_flask-5014:latest",
    "eval_script": "#!/bin/bash\nset -uxo pipefail\ncd /testbed\n: '>>>>> Start Test Output'\n"
    "pytest -rA tests/test_blueprints.py\n: '>>>>> End Test Output'\n",
    "log_parser": "parse_log_pytest",
    "eval_type": "pass_and_fail",
    "image_assets": '{"test_patch": [{"path": "tests/a.png", "url": "https://example.org/a.png"}]}',
    "difficulty": "<15 min fix",
}


@pytest.mark.parametrize("shape", ["jsonl", "json", "folder"])
def test_current_format_reads_unchanged_without_a_spec(tmp_path: Path, shape: str) -> None:
    if shape == "jsonl":
        path = tmp_path / "verified.jsonl"
        path.write_text(json.dumps(CURRENT) + "\n")
    elif shape == "json":
        path = tmp_path / "verified.json"
        path.write_text(json.dumps([CURRENT]))
    else:
        path = tmp_path / "verified"
        path.mkdir()
        (path / "instances.jsonl").write_text(json.dumps(CURRENT) + "\n")
    data = load_dataset(path, offline=True)  # no bundle, no specs.json: the image is enough
    assert data.problems == []
    (inst,) = data.instances
    assert inst.is_current_format
    assert inst.image == CURRENT["image"]
    assert inst.log_parser == "parse_log_pytest"
    assert inst.eval_script == CURRENT["eval_script"]
    assert inst.image_assets["test_patch"][0]["path"] == "tests/a.png"
    assert inst.fail_to_pass == ("tests/test_blueprints.py::test_empty_name_not_allowed",)


def test_current_format_without_image_is_a_named_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**CURRENT, "image": ""}) + "\n")
    data = load_dataset(path)
    assert not data.instances
    assert "pallets__flask-5014" in str(data.problems[0])
    assert "image" in data.problems[0].message


def test_hub_name_unreachable_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("datasets")
    # Offline on purpose, so the test means the same with or without a network.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as err:
        resolve_dataset("SWE-bench/SWE-bench_Verified", split="test")
    message = str(err.value)
    assert "\n" not in message
    assert "https://huggingface.co/datasets/SWE-bench/SWE-bench_Verified" in message
    assert "--dataset" in message
    with pytest.raises(DatasetError, match="SWE-bench/SWE-bench_Lite"):
        resolve_dataset("lite", split="test")


def test_hub_names_are_told_apart_from_paths() -> None:
    assert instances.hub_name("princeton-nlp/SWE-bench_Verified") == (
        "princeton-nlp/SWE-bench_Verified"
    )
    assert instances.hub_name("swe-bench") == "SWE-bench/SWE-bench"
    assert instances.hub_name("data/instances.jsonl") is None
    assert instances.hub_name("instances.jsonl") is None


def test_converter_writes_the_current_format_from_old_plus_specs(tmp_path: Path) -> None:
    out = tmp_path / "mini.jsonl"
    result = CliRunner().invoke(app, ["convert-instances", "agentlab-mini", str(out)])
    assert result.exit_code == 0, result.output
    old = resolve_dataset("agentlab-mini")
    new = load_dataset(out, offline=True)
    assert new.problems == []
    assert [i.instance_id for i in new.instances] == [i.instance_id for i in old.instances]
    for before, after in zip(old.instances, new.instances, strict=True):
        spec = old.spec_for(before)
        assert after.is_current_format
        assert after.fail_to_pass == before.fail_to_pass
        assert after.patch == before.patch
        assert after.log_parser == instances.HARNESS_PARSER[spec.log_parser]
        assert after.image.startswith("agentlab/sweb.eval.x86_64.")
        script = after.eval_script
        assert spec.test_cmd in script
        assert script.index(">>>>> Start Test Output") < script.index(spec.test_cmd)
        assert before.test_patch.strip() in script


def test_converter_takes_a_spec_file_for_a_bare_instances_file(tmp_path: Path) -> None:
    mini = Path(resolve_dataset("agentlab-mini").bundles["agentlab-mini/spans"]).parents[1]
    out = tmp_path / "converted.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "convert-instances",
            str(mini / "instances.jsonl"),
            str(out),
            "--specs",
            str(mini / "specs.json"),
            "--namespace",
            "myorg",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 17
    assert all(r["image"].startswith("myorg/sweb.eval.x86_64.") for r in rows)
