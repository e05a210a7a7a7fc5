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


def between_markers(log: str) -> str | None:
    """The text between the start and end markers (None when the start marker is missing)."""
    start = log.find(START_MARKER)
    if start < 0:
        return None
    end = log.find(END_MARKER, start)
    return log[start + len(START_MARKER) : end if end >= 0 else len(log)]


_HARNESS_STATUSES = ("FAILED", "PASSED", "SKIPPED", "ERROR", "XFAIL")
_SKIP_COUNT = re.compile(r"^\[\d+\]$")


def parse_pytest(log: str) -> dict[str, Status]:
    """pytest ``-rA`` summary lines ``STATUS <test id>``, read exactly as the harness's
    ``parse_log_pytest`` reads them (tests/tasks/test_harness_rules.py holds the two equal):
    the raw line must start with a status word, ``FAILED`` lines lose their `` - `` separator,
    the second word is the id, and ``SKIPPED [N] file:line`` summaries are not tests."""
    result: dict[str, Status] = {}
    for line in log.split("\n"):
        if not line.startswith(_HARNESS_STATUSES):
            continue
        if line.startswith("FAILED"):
            line = line.replace(" - ", " ")
        words = line.split()
        if len(words) < 2 or (words[0] == "SKIPPED" and _SKIP_COUNT.match(words[1])):
            continue
        result[words[1]] = words[0]
    return result


def parse_unittest(log: str) -> dict[str, Status]:
    """``unittest -v`` / Django runner lines (``name (module.Class) ... ok``), with the
    harness's ``parse_log_django`` rules for the common shapes: ``... ok|OK|skipped|FAIL|ERROR``,
    an ``ok`` on its own line after output, and ``FAIL: name`` / ``ERROR: name`` headers."""
    result: dict[str, Status] = {}
    previous: str | None = None
    for raw in log.split("\n"):
        line = raw.strip()
        if " ... " in line:
            previous = line.split(" ... ")[0]
        for suffix in (" ... ok", " ... OK", " ...  OK"):
            if line.endswith(suffix):
                result[line.rsplit(suffix, 1)[0]] = "PASSED"
                break
        if " ... skipped" in line:
            result[line.split(" ... skipped")[0]] = "SKIPPED"
        for verdict, status in ((" ... FAIL", "FAILED"), (" ... ERROR", "ERROR")):
            if line.endswith(verdict):
                result[line.split(verdict)[0]] = status
        for header, status in (("FAIL:", "FAILED"), ("ERROR:", "ERROR")):
            if line.startswith(header):
                result[line.split()[1].strip()] = status
        if line.startswith("ok") and previous is not None:
            result[previous] = "PASSED"
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
