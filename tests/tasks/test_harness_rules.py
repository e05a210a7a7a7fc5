"""``--grading swebench`` against the harness itself: the swebench package is the referee.

Over a corpus of small, realistic logs for every runner the harness knows
(``tests/tasks/data/harness_logs``), agentlab's parser dispatch, its harness rules and its
report must equal what the package's own functions give: the parser registry,
``get_logs_eval``, ``get_eval_tests_report`` and ``get_eval_report``. Needs the
``agentlab[swebench]`` extra (installed by .ci/setup).
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from agentlab.tasks import harness_rules, official, parsers
from agentlab.tasks.log_parsers import END_MARKER, START_MARKER
from agentlab.tasks.official import SpecFields

DATA = Path(__file__).parent / "data" / "harness_logs"
CORPUS: list[dict[str, Any]] = json.loads((DATA / "corpus.json").read_text())["entries"]

pytestmark = pytest.mark.skipif(
    not official.available(), reason="needs the swebench package (agentlab[swebench])"
)


def _fields(entry: dict[str, Any], f2p: list[str] = [], p2p: list[str] = []) -> SpecFields:  # noqa: B006
    return SpecFields(
        instance_id=entry.get("instance_id", "owner__repo-1"),
        repo=entry.get("repo", "owner/repo"),
        version=entry.get("version", "1.0"),
        fail_to_pass=tuple(f2p),
        pass_to_pass=tuple(p2p),
        log_parser=entry["parser"],
        eval_type=entry.get("eval_type", "pass_and_fail"),
    )


def _log(entry: dict[str, Any]) -> str:
    return (DATA / entry["log"]).read_text(encoding="utf-8")


def _slice(log: str) -> str:
    return log.split(START_MARKER)[1].split(END_MARKER)[0] if START_MARKER in log else log


def _ids(entry: dict[str, Any]) -> str:
    return f"{entry['parser']}:{entry['log']}"


def _splits(entry: dict[str, Any]) -> list[tuple[list[str], list[str]]]:
    """FAIL_TO_PASS / PASS_TO_PASS splits of the tests the log names, plus a missing test and
    truncated parametrized ids, so every status meets both categories."""
    names = sorted(official.parse(entry["parser"], _log(entry), _fields(entry)))
    truncated = [n.split("[")[0] + "[" + n.split("[")[1][:4] for n in names if "[" in n][:2]
    missing = ["tests/never_ran.py::test_missing"]
    splits = [([], names), (names, []), (names[:1], names[1:]), ([], names + missing)]
    splits += [([n], [m for m in names if m != n]) for n in islice(names, 6)]
    if truncated:
        splits.append((truncated, []))
    return splits


def test_corpus_covers_every_parser_the_harness_names() -> None:
    covered = {e["parser"] for e in CORPUS}
    missing = set(official.parser_names()) - covered
    assert not missing, f"add a log to tests/tasks/data/harness_logs for: {sorted(missing)}"
    # Each parser reads something from at least one of its logs: no vacuous agreement.
    empty = [
        p
        for p in covered
        if not any(official.parse(p, _log(e), _fields(e)) for e in CORPUS if e["parser"] == p)
    ]
    assert not empty, f"no log in the corpus gives these parsers any result: {empty}"


@pytest.mark.parametrize("entry", CORPUS, ids=_ids)
def test_dispatch_gives_the_harness_parsers_status_map(entry: dict[str, Any]) -> None:
    from swebench.harness.log_parsers import PARSER_REGISTRY  # referee, called directly

    fields = _fields(entry)
    spec = official.test_spec(fields)
    for text in (_log(entry), _slice(_log(entry))):
        assert parsers.parse(entry["parser"], text, fields) == PARSER_REGISTRY[entry["parser"]](
            text, spec
        )


@pytest.mark.parametrize("entry", [e for e in CORPUS if "agentlab" in e], ids=_ids)
def test_agentlab_own_parsers_agree_with_the_harness(entry: dict[str, Any]) -> None:
    fields = _fields(entry)
    for text in (_log(entry), _slice(_log(entry))):
        ours = parsers.parse(entry["agentlab"], text, fields)
        assert ours == official.parse(entry["parser"], text, fields)


@pytest.mark.parametrize("entry", CORPUS, ids=_ids)
def test_rules_and_reports_equal_the_harness_grading(entry: dict[str, Any]) -> None:
    from swebench.harness import grading  # referee

    log = _log(entry)
    for name in {entry["parser"], entry.get("agentlab", entry["parser"])}:
        fields = _fields(entry)
        parse = parsers.parser_for(name, fields)
        assert harness_rules.status_map(log, parse) == official.logs_eval(fields, log)
        statuses, valid = official.logs_eval(fields, log)
        for f2p, p2p in _splits(entry):
            fields = _fields(entry, f2p, p2p)
            ours = harness_rules.instance_report(
                fields.instance_id,
                "diff --git a/x b/x\n",
                log,
                parse,
                f2p,
                p2p,
                eval_type=fields.eval_type,
                classify=official.classify_infra,
            )
            assert ours == official.eval_report(fields, "diff --git a/x b/x\n", log)
            if valid:
                theirs = grading.get_eval_tests_report(
                    statuses,
                    {"FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p},
                    eval_type=grading.EvalType(fields.eval_type),
                )
                ours_block = harness_rules.tests_status(statuses, f2p, p2p, fields.eval_type)
                assert ours_block == theirs


def test_skipped_pass_to_pass_is_maintained_and_resolves() -> None:
    """Issue 11 item 7: the harness counts a SKIPPED PASS_TO_PASS test as maintained."""
    entry = {"parser": "parse_log_pytest", "log": "pytest_skipped_p2p.log"}
    f2p = ["tests/test_app.py::test_new_behaviour"]
    p2p = ["tests/test_app.py::test_url_for", "tests/test_app.py::test_windows_paths"]
    fields = _fields(entry, f2p, p2p)
    report = harness_rules.instance_report(
        fields.instance_id, "p", _log(entry), parsers.parser_for("pytest", fields), f2p, p2p
    )[fields.instance_id]
    assert report["resolved"] is True
    assert (
        "tests/test_app.py::test_windows_paths" in report["tests_status"]["PASS_TO_PASS"]["success"]
    )
    assert report == official.eval_report(fields, "p", _log(entry))[fields.instance_id]
    # A skipped FAIL_TO_PASS test is not a resolution.
    skipped_f2p = _fields(entry, ["tests/test_app.py::test_windows_paths"], [])
    theirs = official.eval_report(skipped_f2p, "p", _log(entry))[skipped_f2p.instance_id]
    assert theirs["resolved"] is False


def test_results_outside_the_markers_are_read_from_the_whole_log() -> None:
    """Issue 11 item 7: an empty region between the markers falls back to the whole log."""
    entry = {"parser": "parse_log_pytest", "log": "pytest_outside_markers.log"}
    log = _log(entry)
    assert parsers.parse("pytest", _slice(log), _fields(entry)) == {}
    statuses, valid = harness_rules.status_map(log, parsers.parser_for("pytest", _fields(entry)))
    assert valid
    assert statuses == {
        "tests/test_dataset.py::test_merge": "PASSED",
        "tests/test_dataset.py::test_concat": "FAILED",
        "tests/test_dataset.py::test_where": "PASSED",
    }
    assert (statuses, valid) == official.logs_eval(_fields(entry), log)


def test_forged_passes_under_a_failing_exit_code_are_not_a_valid_run() -> None:
    entry = {"parser": "parse_log_pytest", "log": "pytest_forged.log"}
    parse = parsers.parser_for("pytest", _fields(entry))
    assert harness_rules.status_map(_log(entry), parse) == ({}, False)
    report = official.eval_report(
        _fields(entry, [], ["tests/test_marshal.py::test_dump"]), "p", _log(entry)
    )
    assert report["owner__repo-1"]["patch_successfully_applied"] is False


def test_no_patch_report_matches() -> None:
    entry = {"parser": "parse_log_pytest", "log": "pytest_requests.log"}
    fields = _fields(entry)
    ours = harness_rules.instance_report(
        fields.instance_id, None, _log(entry), parsers.parser_for("pytest", fields), [], []
    )
    assert ours == official.eval_report(fields, None, _log(entry))
