"""In-sandbox test reporters for strict grading, shipped into the sandbox as source text.

Each reporter reads the per-run nonce from a file and deletes it *when it is imported*, which
is before pytest loads any conftest or test module (``-p`` plugins load first) and before
unittest imports the tests. It then appends ``@@<nonce> STATUS <test id>`` lines to a results
file opened at that same moment. Text the code under test prints, through any file descriptor,
lacks the nonce, so the strict parser ignores it.
"""

from __future__ import annotations

# Not under /tmp: the engine cannot copy files into a tmpfs mount.
NONCE_DIR = "/opt/agentlab/secret"
NONCE_FILE = f"{NONCE_DIR}/nonce"
RESULTS_FILE = "/tmp/agentlab_results"
REPORTER_DIR = "/opt/agentlab"

PYTEST_PLUGIN = '''\
"""agentlab strict reporter: nonce-tagged test outcomes (loaded with -p agentlab_report)."""
import os


def _open():
    with open("__NONCE_FILE__") as fh:
        nonce = fh.read().strip()
    os.unlink("__NONCE_FILE__")
    fd = os.open("__RESULTS_FILE__", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return nonce, fd


_NONCE, _FD = _open()
del _open


def _emit(status, nodeid):
    os.write(_FD, ("\\n@@%s %s %s\\n" % (_NONCE, status, nodeid)).encode("utf-8", "replace"))


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            status = "XFAIL" if report.skipped else "XPASS"
        elif report.passed:
            status = "PASSED"
        elif report.skipped:
            status = "SKIPPED"
        else:
            status = "FAILED" if report.when == "call" else "ERROR"
        _emit(status, report.nodeid)
    elif report.when == "teardown" and report.failed:
        _emit("ERROR", report.nodeid)


def pytest_collectreport(report):
    if report.failed:
        _emit("ERROR", report.nodeid)
'''.replace("__NONCE_FILE__", NONCE_FILE).replace("__RESULTS_FILE__", RESULTS_FILE)

UNITTEST_RUNNER = '''\
"""agentlab strict runner: `python3 -m agentlab_unittest <unittest args>`."""
import os
import sys
import unittest

with open("__NONCE_FILE__") as _fh:
    _NONCE = _fh.read().strip()
os.unlink("__NONCE_FILE__")
_FD = os.open("__RESULTS_FILE__", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def _emit(status, test):
    # The id exactly as `unittest -v` prints it, whatever the test class's own __str__ says.
    name = unittest.TestCase.__str__(test)
    os.write(_FD, ("\\n@@%s %s %s\\n" % (_NONCE, status, name)).encode("utf-8", "replace"))


class _Result(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        _emit("PASSED", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        _emit("FAILED", test)

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.TestCase):
            _emit("ERROR", test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        _emit("SKIPPED", test)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        _emit("XFAIL", test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        _emit("FAILED", test)


if __name__ == "__main__":
    runner = unittest.TextTestRunner(resultclass=_Result, verbosity=2)
    unittest.main(module=None, argv=["python3 -m unittest", *sys.argv[1:]], testRunner=runner)
'''.replace("__NONCE_FILE__", NONCE_FILE).replace("__RESULTS_FILE__", RESULTS_FILE)
