"""Test-log parsers: the harness's plain ones, and the nonce-tagged one strict grading uses.

The plain parsers read whatever the test run printed, as the SWE-bench harness does, so a
program that prints ``PASSED tests/test_x.py::test_y`` forges a result. The strict parser
accepts only lines carrying the per-run secret nonce our in-process reporter writes; text the
code under test prints cannot carry it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Status = str  # PASSED | FAILED | ERROR | SKIPPED | XFAIL
STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")

START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_UNITTEST = re.compile(
    r"^(\w+) \(([\w.]+)\) \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$"
)
_UNITTEST_STATUS = {
    "ok": "PASSED",
    "FAIL": "FAILED",
    "ERROR": "ERROR",
    "expected failure": "XFAIL",
    "unexpected success": "FAILED",
}


def between_markers(log: str) -> str | None:
    """The text between the start and end markers (None when the start marker is missing)."""
    start = log.find(START_MARKER)
    if start < 0:
        return None
    end = log.find(END_MARKER, start)
    return log[start + len(START_MARKER) : end if end >= 0 else len(log)]


def parse_pytest(log: str) -> dict[str, Status]:
    """pytest ``-rA`` summary lines: ``STATUS <test id>`` (the harness's parser)."""
    result: dict[str, Status] = {}
    for raw in log.splitlines():
        line = _ANSI.sub("", raw).strip()
        if not line.startswith(STATUSES):
            continue
        # "FAILED tests/x.py::t - AssertionError" -> drop the message after " - "
        if line.startswith("FAILED") and " - " in line:
            line = line.split(" - ", 1)[0]
        parts = line.split()
        if len(parts) >= 2 and parts[0] in STATUSES:
            result[parts[1]] = parts[0]
    return result


def parse_unittest(log: str) -> dict[str, Status]:
    """``python -m unittest -v`` lines: ``test_x (pkg.mod.Class) ... ok``."""
    result: dict[str, Status] = {}
    for raw in log.splitlines():
        m = _UNITTEST.match(raw.strip())
        if not m:
            continue
        name, owner, verdict = m.groups()
        status = "SKIPPED" if verdict.startswith("skipped") else _UNITTEST_STATUS[verdict]
        result[f"{name} ({owner})"] = status
    return result


def parse_tagged(log: str, nonce: str) -> dict[str, Status]:
    """Strict: only ``@@<nonce> STATUS <test id>`` lines count; everything else is ignored."""
    result: dict[str, Status] = {}
    tag = f"@@{nonce} "
    for raw in log.splitlines():
        at = raw.rfind(tag)  # printed junk may precede our tag on the same line
        if at < 0:
            continue
        parts = raw[at + len(tag) :].split(" ", 1)
        if len(parts) == 2 and parts[0] in STATUSES:
            test = parts[1].strip()
            # The worst status a test was given stands: a PASSED forged before the genuine
            # FAILED (or after it) cannot turn the test into a pass.
            if result.get(test, "PASSED") in ("PASSED", "XFAIL"):
                result[test] = parts[0]
    return result


PARSERS: dict[str, Callable[[str], dict[str, Status]]] = {
    "pytest": parse_pytest,
    "unittest": parse_unittest,
}
