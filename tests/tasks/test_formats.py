"""Pure parts: loading instances and predictions, log parsers, grading, report keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.errors import DatasetError
from agentlab.tasks import grading, log_parsers, scripts
from agentlab.tasks.predictions import load_predictions
from agentlab.tasks.swebench import (
    RepoSpec,
    SWEInstance,
    load_dataset,
    namespace_image,
    parse_instances,
)

BASE = {"repo": "o/r", "base_commit": "abcdef", "version": "0.1"}


def test_fail_to_pass_accepts_json_strings_and_lists() -> None:
    a = SWEInstance.model_validate({**BASE, "instance_id": "o__r-1", "FAIL_TO_PASS": '["t1"]'})
    b = SWEInstance.model_validate({**BASE, "instance_id": "o__r-2", "FAIL_TO_PASS": ["t1"]})
    assert a.fail_to_pass == b.fail_to_pass == ("t1",)


def test_bad_instances_are_reported_by_id_and_good_ones_kept(tmp_path: Path) -> None:
    good = {**BASE, "instance_id": "o__r-1"}
    bad = {**BASE, "instance_id": "o__r-2", "FAIL_TO_PASS": "not json"}
    odd = {**BASE, "instance_id": "o__r-3", "version": "9.9"}
    (tmp_path / "instances.jsonl").write_text("\n".join(json.dumps(r) for r in (good, bad, odd)))
    spec = {"test_cmd": "pytest -rA", "log_parser": "pytest"}
    (tmp_path / "specs.json").write_text(json.dumps({"o/r": {"0.1": spec}}))
    ds = load_dataset(tmp_path, offline=False)
    assert [i.instance_id for i in ds.instances] == ["o__r-1"]
    assert {p.instance_id for p in ds.problems} == {"o__r-2", "o__r-3"}
    assert "FAIL_TO_PASS" in str(ds.problems[0])
    assert "missing source" in str(load_dataset(tmp_path, offline=True).problems[-1])


def test_unknown_parser_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "instances.jsonl").write_text(json.dumps({**BASE, "instance_id": "o__r-1"}))
    (tmp_path / "specs.json").write_text(
        json.dumps({"o/r": {"0.1": {"test_cmd": "x", "log_parser": "tap"}}})
    )
    assert "unknown log parser 'tap'" in str(load_dataset(tmp_path).problems[0])


def test_predictions_in_all_three_shapes(tmp_path: Path) -> None:
    rec = {"instance_id": "o__r-1", "model_name_or_path": "m", "model_patch": "diff"}
    (tmp_path / "p.jsonl").write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    (tmp_path / "l.json").write_text(json.dumps([rec]))
    (tmp_path / "d.json").write_text(json.dumps({"o__r-1": rec}))
    assert [p.sample for p in load_predictions(tmp_path / "p.jsonl")] == [0, 1]
    assert load_predictions(tmp_path / "l.json") == load_predictions(tmp_path / "d.json")[:1]
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(DatasetError, match=r"bad\.json"):
        load_predictions(tmp_path / "bad.json")


def test_parsers_and_harness_grading_rules() -> None:
    log = "\n".join(
        [
            ">>>>> Start Test Output",
            "PASSED t::a",
            "FAILED t::b - AssertionError: x",
            "XFAIL t::c",
            "test_d (pkg.T.test_d) ... ok",
            ">>>>> End Test Output",
        ]
    )
    body = log_parsers.between_markers(log) or ""
    assert log_parsers.parse_pytest(body) == {"t::a": "PASSED", "t::b": "FAILED", "t::c": "XFAIL"}
    assert log_parsers.parse_unittest(body) == {"test_d (pkg.T.test_d)": "PASSED"}
    inst = SWEInstance.model_validate(
        {
            **BASE,
            "instance_id": "o__r-1",
            "FAIL_TO_PASS": ["t::a", "t::c"],
            "PASS_TO_PASS": ["t::missing"],
        }
    )
    g = grading.grade(inst, log_parsers.parse_pytest(body))
    assert not g.resolved  # a test missing from the log counts as failed
    assert grading.grade(
        inst.model_copy(update={"pass_to_pass": ()}), {"t::a": "PASSED", "t::c": "XFAIL"}
    ).resolved


def test_tagged_parser_ignores_untagged_and_wrongly_tagged_lines() -> None:
    log = "PASSED t::a\n@@bad PASSED t::b\njunk@@n1 FAILED t::c\n@@n1 PASSED t::d\n"
    assert log_parsers.parse_tagged(log, "n1") == {"t::c": "FAILED", "t::d": "PASSED"}


def test_run_report_has_the_harness_keys() -> None:
    report = grading.run_report(
        ["a", "b", "c", "d"], ["a", "b", "c"], {"a": "resolved", "b": "error", "c": "empty_patch"}
    )
    assert list(report) == [
        "total_instances", "submitted_instances", "completed_instances", "resolved_instances",
        "unresolved_instances", "infra_failure_instances", "ambiguous_failure_instances",
        "empty_patch_instances", "error_instances", "completed_ids", "incomplete_ids",
        "empty_patch_ids", "submitted_ids", "resolved_ids", "unresolved_ids",
        "infra_failure_ids", "ambiguous_failure_ids", "failure_reasons", "error_ids",
        "schema_version",
    ]  # fmt: skip
    assert report["schema_version"] == 2
    assert (report["resolved_ids"], report["error_ids"]) == (["a"], ["b"])


def test_tampering_detection() -> None:
    def diff(path: str, line: str = "+x") -> str:
        return f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-y\n{line}\n"

    assert scripts.tampered_files(diff("src/mod.py"), "") == []
    assert scripts.tampered_files(diff("pkg/conftest.py"), "") == ["pkg/conftest.py"]
    assert scripts.tampered_files(diff("tests/helpers.py"), "") == ["tests/helpers.py"]
    assert scripts.tampered_files(diff("setup.cfg", "+[tool:pytest]"), "") == ["setup.cfg"]
    assert scripts.tampered_files(diff("setup.cfg", "+version = 2"), "") == []
    assert scripts.tampered_files(diff("x/y.py"), diff("x/y.py")) == ["x/y.py"]


def test_strict_tests_run_with_autoload_off_and_only_named_plugins() -> None:
    inst = SWEInstance(instance_id="a__b-1", repo="a/b", base_commit="abcd")
    spec = RepoSpec(test_cmd="python3 -m pytest -rA", pytest_plugins=("xdist.plugin",))
    strict = scripts.eval_script(inst, spec, strict=True, timeout=60)
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1" in strict
    assert "-p agentlab_report -p xdist.plugin" in strict
    harness = scripts.eval_script(inst, spec, strict=False, timeout=60)
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD" not in harness  # the harness autoloads


def test_tagged_parser_keeps_the_worst_status() -> None:
    tag = "@@" + "ab" * 8
    log = f"{tag} PASSED t::a\n{tag} FAILED t::a\n{tag} PASSED t::a\n{tag} PASSED t::b\n"
    assert log_parsers.parse_tagged(log, "ab" * 8) == {"t::a": "FAILED", "t::b": "PASSED"}


def test_namespace_image_name() -> None:
    assert namespace_image("swebench", "django__django-11099") == (
        "swebench/sweb.eval.x86_64.django_1776_django-11099:latest"
    )


def test_parse_instances_names_non_objects() -> None:
    _, problems = parse_instances([42])
    assert problems[0].instance_id == "#0"
