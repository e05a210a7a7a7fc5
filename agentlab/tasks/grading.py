"""Grading with the SWE-bench harness's rules, and its report formats.

A test passes if its status is PASSED or XFAIL; a test missing from the log counts as failed;
``resolved`` means every FAIL_TO_PASS and every PASS_TO_PASS test passes (an empty list passes).
Reports carry exactly the harness's keys, so tools that parse its reports parse ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentlab.tasks import harness_rules, official, parsers
from agentlab.tasks.swebench import SWEInstance

PASSING = ("PASSED", "XFAIL")
CATEGORIES = ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")

# Outcomes, as stored in the ``evaluation`` table.
RESOLVED = "resolved"
UNRESOLVED = "unresolved"
EMPTY_PATCH = "empty_patch"
PATCH_FAILED = "patch_failed"
TAMPERED = "tampered"
# Strict mode: the patch's non-test code reaches for the grader (agentlab.tasks.hacking).
SUSPICIOUS = "suspicious"
ERROR = "error"
# Outcomes the harness writes no report.json for; in its run report a patch that did not
# apply is an error (the instance raised), like an infrastructure failure.
UNGRADED = (ERROR, EMPTY_PATCH, PATCH_FAILED)


@dataclass
class Grade:
    """The graded outcome of one prediction on one instance."""

    outcome: str
    patch_exists: bool = True
    patch_applied: bool = False
    statuses: dict[str, str] = field(default_factory=dict)
    tests_status: dict[str, dict[str, list[str]]] | None = None
    detail: str = ""
    # The harness's infrastructure triage of a log with no valid results (report.json keys).
    infra_failure: bool = False
    infra_reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.outcome == RESOLVED


def test_passed(test_id: str, statuses: Mapping[str, str]) -> bool:
    """The harness's rule: PASSED or XFAIL pass; anything else, or missing, fails."""
    return statuses.get(test_id) in PASSING


def tests_status(instance: SWEInstance, statuses: Mapping[str, str]) -> dict[str, Any]:
    """The harness's ``tests_status`` block: success / failure per category."""
    block: dict[str, Any] = {}
    for name, tests in (
        ("FAIL_TO_PASS", instance.fail_to_pass),
        ("PASS_TO_PASS", instance.pass_to_pass),
        ("FAIL_TO_FAIL", ()),
        ("PASS_TO_FAIL", ()),
    ):
        block[name] = {
            "success": [t for t in tests if test_passed(t, statuses)],
            "failure": [t for t in tests if not test_passed(t, statuses)],
        }
    return block


def grade(instance: SWEInstance, statuses: Mapping[str, str]) -> Grade:
    """Grade a parsed log of a run whose patch applied."""
    block = tests_status(instance, statuses)
    ok = not block["FAIL_TO_PASS"]["failure"] and not block["PASS_TO_PASS"]["failure"]
    return Grade(
        outcome=RESOLVED if ok else UNRESOLVED,
        patch_applied=True,
        statuses=dict(statuses),
        tests_status=block,
    )


def harness_grade(instance: SWEInstance, parser: str, log: str) -> Grade:
    """Grade a finished run's whole ``test_output`` by the harness's rules (``--grading
    swebench``): see :mod:`agentlab.tasks.harness_rules`. A log with no valid results is
    unresolved with ``patch_successfully_applied`` false, as the harness reports it."""
    fields = parsers.fields_for(instance, parser)
    statuses, valid = harness_rules.status_map(log, parsers.parser_for(parser, fields))
    if not valid:
        found = official.classify_infra(log) if official.available() else None
        return Grade(
            UNRESOLVED,
            detail="no valid test results in the log" + (f" ({found[0]})" if found else ""),
            infra_failure=bool(found and found[1] == "environment"),
            infra_reason=found[0] if found else "",
        )
    block = harness_rules.tests_status(
        statuses, instance.fail_to_pass, instance.pass_to_pass, fields.eval_type
    )
    return Grade(
        RESOLVED if harness_rules.resolved(block) else UNRESOLVED,
        patch_applied=True,
        statuses=statuses,
        tests_status=block,
    )


def instance_report(instance_id: str, g: Grade, *, patch_is_none: bool = False) -> dict[str, Any]:
    """The harness's per-instance ``report.json`` content."""
    body: dict[str, Any] = {
        "patch_is_None": patch_is_none,
        "patch_exists": g.patch_exists,
        "patch_successfully_applied": g.patch_applied,
        "resolved": g.resolved,
        "infra_failure": g.infra_failure,
    }
    if g.infra_reason:
        body["infra_failure_reason"] = g.infra_reason
    if g.tests_status is not None:
        body["tests_status"] = g.tests_status
    if g.outcome == SUSPICIOUS:  # not a harness key: only strict mode grades this
        body["suspicious_reasons"] = g.detail.split("; ")
    return {instance_id: body}


def run_report(
    dataset_ids: Iterable[str],
    submitted_ids: Iterable[str],
    outcomes: Mapping[str, str],
    failure_reasons: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The harness's run report (schema_version 2). ``outcomes`` maps instance id -> outcome.

    Instances without an outcome yet (not run, or interrupted) are ``incomplete``; errors
    (and patches that did not apply) are neither completed nor unresolved, as in the harness.
    Strict mode's ``suspicious`` ones are unresolved and also listed under ``suspicious_ids``
    (the only key the harness lacks).
    """
    submitted = sorted(set(submitted_ids))
    by = {k: sorted(i for i, o in outcomes.items() if o == k) for k in (RESOLVED, EMPTY_PATCH)}
    by[ERROR] = sorted(i for i, o in outcomes.items() if o in (ERROR, PATCH_FAILED))
    completed = sorted(i for i, o in outcomes.items() if o not in UNGRADED)
    unresolved = sorted(i for i in completed if outcomes[i] != RESOLVED)
    incomplete = sorted(i for i in submitted if i not in outcomes)
    # The harness's infra triage of unresolved and errored instances: (reason, tier) by id.
    reasons = {
        i: r for i, r in (failure_reasons or {}).items() if i in unresolved or i in by[ERROR]
    }
    infra = sorted(i for i, (_, tier) in reasons.items() if tier == "environment")
    ambiguous = sorted(i for i, (_, tier) in reasons.items() if tier != "environment")
    suspicious = sorted(i for i, o in outcomes.items() if o == SUSPICIOUS)
    extra = {"suspicious_ids": suspicious} if suspicious else {}  # strict mode only
    return extra | {
        "total_instances": len(set(dataset_ids)),
        "submitted_instances": len(submitted),
        "completed_instances": len(completed),
        "resolved_instances": len(by[RESOLVED]),
        "unresolved_instances": len(unresolved),
        "infra_failure_instances": len(infra),
        "ambiguous_failure_instances": len(ambiguous),
        "empty_patch_instances": len(by[EMPTY_PATCH]),
        "error_instances": len(by[ERROR]),
        "completed_ids": completed,
        "incomplete_ids": incomplete,
        "empty_patch_ids": by[EMPTY_PATCH],
        "submitted_ids": submitted,
        "resolved_ids": by[RESOLVED],
        "unresolved_ids": unresolved,
        "infra_failure_ids": infra,
        "ambiguous_failure_ids": ambiguous,
        "failure_reasons": {i: reasons[i][0] for i in sorted(reasons)},
        "error_ids": by[ERROR],
        "schema_version": 2,
    }
