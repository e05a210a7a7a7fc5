"""The SWE-bench harness's grading rules, as ``--grading swebench`` applies them.

These follow ``swebench.harness.grading`` (5.x) rule for rule, and
``tests/tasks/test_harness_rules.py`` holds them to the package's own functions over a corpus
of logs for every runner. They live here so grading works without the package installed;
the per-runner parsers come through :mod:`agentlab.tasks.parsers`.

- A log is a valid run only if it carries both output markers and none of the harness's
  failure markers. The status map is parsed from between the markers; if that is empty, from
  the whole log (runners whose output lands outside the markers). Still empty with no sign a
  suite ran: not a valid run. A recorded non-zero exit code with results but no failure among
  them: not a valid run (printed forgeries).
- FAIL_TO_PASS passes on PASSED or XFAIL; PASS_TO_PASS is maintained on PASSED, XFAIL or
  SKIPPED; a test is failed when FAILED, ERROR, SKIPPED or missing. A truncated parametrized
  id (more ``[`` than ``]``) matches by prefix when all matches agree on pass/fail.
- ``eval_type: fail_only``: a test fails only if it is present and FAILED.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentlab.tasks.log_parsers import END_MARKER, START_MARKER

FAILURE_MARKERS = (
    ">>>>> Patch Apply Failed",
    ">>>>> Reset Failed",
    ">>>>> Tests Errored",
    ">>>>> Tests Timed Out",
)
EXIT_CODE_MARKER = ">>>>> Test Exit Code"
EXIT_CODE_VAR = "SWEBENCH_TEST_EXIT_CODE"
PASS_AND_FAIL = "pass_and_fail"
FAIL_ONLY = "fail_only"

_EXIT_CODE = re.compile(re.escape(EXIT_CODE_MARKER) + r":\s*(-?\d+)")
# A runner's own summary with a non-zero count: evidence a suite ran though nothing parsed.
_SUITE_RAN = re.compile(
    "|".join(
        (
            r"Executed [1-9]\d* of \d+",
            r"TOTAL: [1-9]\d* (?:SUCCESS|FAILED)",
            r"[1-9]\d* passing",
            r"Tests:\s+[1-9]\d*",
            r"Test Suites:\s+(?:\d+ \w+, )*[1-9]\d* total",
            r"^# tests [1-9]\d*",
            r"[1-9]\d* specs?, \d+ failures?",
            r"': ok$",
        )
    ),
    re.M,
)
_PASSING = ("PASSED", "XFAIL")
_FAILING = ("FAILED", "ERROR", "SKIPPED")

Parse = Callable[[str], dict[str, str]]


def exit_code(log: str) -> int | None:
    """The test command's exit status the eval script recorded, if it did."""
    m = _EXIT_CODE.search(log)
    return int(m.group(1)) if m else None


def status_map(log: str, parse: Parse) -> tuple[dict[str, str], bool]:
    """(status map, valid run) for a whole ``test_output.txt``, as the harness reads it."""
    if any(marker in log for marker in FAILURE_MARKERS):
        return {}, False
    if START_MARKER not in log or END_MARKER not in log:
        return {}, False
    statuses = parse(log.split(START_MARKER)[1].split(END_MARKER)[0])
    if not statuses:
        statuses = parse(log)
    if not statuses and not _SUITE_RAN.search(log):
        return {}, False
    code = exit_code(log)
    if (
        code not in (None, 0)
        and statuses
        and not any(s in ("FAILED", "ERROR") for s in statuses.values())
    ):
        return {}, False
    return statuses, True


def _key(test: str, statuses: Mapping[str, str]) -> str | None:
    if test in statuses:
        return test
    if test.count("[") > test.count("]"):
        matches = [k for k in statuses if k.startswith(test)]
        if matches and len({statuses[k] in _PASSING for k in matches}) == 1:
            return matches[0]
    return None


def passed(test: str, statuses: Mapping[str, str]) -> bool:
    key = _key(test, statuses)
    return key is not None and statuses[key] in _PASSING


def maintained(test: str, statuses: Mapping[str, str]) -> bool:
    """PASS_TO_PASS: a skipped test is not a regression."""
    key = _key(test, statuses)
    return passed(test, statuses) or (key is not None and statuses[key] == "SKIPPED")


def failed(test: str, statuses: Mapping[str, str]) -> bool:
    key = _key(test, statuses)
    return key is None or statuses[key] in _FAILING


def tests_status(
    statuses: Mapping[str, str],
    fail_to_pass: Sequence[str],
    pass_to_pass: Sequence[str],
    eval_type: str = PASS_AND_FAIL,
) -> dict[str, dict[str, list[str]]]:
    """The harness's ``tests_status`` block. A test can land in neither list (e.g. XPASS)."""
    fail_only = eval_type == FAIL_ONLY

    def split(tests: Sequence[str], ok: Callable[[str, Mapping[str, str]], bool]) -> Any:
        success: list[str] = []
        failure: list[str] = []
        for test in tests:
            if fail_only:
                (failure if statuses.get(test) == "FAILED" else success).append(test)
            elif ok(test, statuses):
                success.append(test)
            elif failed(test, statuses):
                failure.append(test)
        return {"success": success, "failure": failure}

    return {
        "FAIL_TO_PASS": split(fail_to_pass, passed),
        "PASS_TO_PASS": split(pass_to_pass, maintained),
        "FAIL_TO_FAIL": {"success": [], "failure": []},
        "PASS_TO_FAIL": {"success": [], "failure": []},
    }


def resolved(block: Mapping[str, Mapping[str, list[str]]]) -> bool:
    """Fully resolved: no FAIL_TO_PASS and no PASS_TO_PASS failure."""
    return not block["FAIL_TO_PASS"]["failure"] and not block["PASS_TO_PASS"]["failure"]


def instance_report(
    instance_id: str,
    model_patch: str | None,
    log: str,
    parse: Parse,
    fail_to_pass: Sequence[str],
    pass_to_pass: Sequence[str],
    *,
    eval_type: str = PASS_AND_FAIL,
    classify: Callable[[str], tuple[str, str] | None] | None = None,
) -> dict[str, Any]:
    """The harness's ``report.json`` for one finished run (``classify``: infra triage)."""
    body: dict[str, Any] = {
        "patch_is_None": model_patch is None,
        "patch_exists": model_patch is not None,
        "patch_successfully_applied": False,
        "resolved": False,
        "infra_failure": False,
    }
    if model_patch is None:
        return {instance_id: body}
    statuses, valid = status_map(log, parse)
    if not valid:
        found = classify(log) if classify else None
        if found:
            body["infra_failure"] = found[1] == "environment"
            body["infra_failure_reason"] = found[0]
        return {instance_id: body}
    body["patch_successfully_applied"] = True
    block = tests_status(statuses, fail_to_pass, pass_to_pass, eval_type)
    body["resolved"] = resolved(block)
    body["tests_status"] = block
    return {instance_id: body}
