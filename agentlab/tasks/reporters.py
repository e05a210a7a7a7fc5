"""In-sandbox test reporters for strict grading, shipped into the sandbox as source text.

Each reporter reads the per-run nonce from a file and deletes it *when it is imported*, which
is before pytest loads any conftest or test module (``-p`` plugins load first) and before
unittest imports the tests. It then appends ``@@<nonce> STATUS <test id>`` lines to a results
file opened at that same moment. Text the code under test prints, through any file descriptor,
lacks the nonce, so the strict parser ignores it.

Code under test runs in the same process, so it could forge a tagged line if it could reach the
reporter. Nothing of the reporter is left where code finds things by name: the nonce, the fd
and the writer live only in closures; the pytest plugin drops its module from ``sys.modules``
and registers its hooks under a random name before any conftest or test module is imported;
the unittest runner's ``__main__`` keeps no names. Reaching the closures needs ``gc`` or frame
walking, which the reward-hacking detector (:mod:`agentlab.tasks.hacking`) flags in a patch.
The results fd is moved to a random high number. The parser keeps the worst status a test id
was given, so a forged PASSED cannot overwrite the genuine FAILED that follows it.
"""

from __future__ import annotations

# Not under /tmp: the engine cannot copy files into a tmpfs mount.
NONCE_DIR = "/opt/agentlab/secret"
NONCE_FILE = f"{NONCE_DIR}/nonce"
RESULTS_FILE = "/tmp/agentlab_results"
REPORTER_DIR = "/opt/agentlab"

PYTEST_PLUGIN = '''\
"""agentlab strict reporter: nonce-tagged test outcomes (loaded with -p agentlab_report)."""


def _install():
    import os
    import secrets
    import sys

    with open("__NONCE_FILE__") as fh:
        prefix = ("\\n@@%s " % fh.read().strip()).encode()
    os.unlink("__NONCE_FILE__")
    opened = os.open("__RESULTS_FILE__", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fd = os.dup2(opened, 900 + secrets.randbelow(90))
    os.close(opened)
    write = os.write

    def emit(status, nodeid):
        write(fd, prefix + ("%s %s\\n" % (status, nodeid)).encode("utf-8", "replace"))

    class Hooks:
        __slots__ = ()

        def pytest_runtest_logreport(self, report):
            if report.when == "call" or (report.when == "setup" and not report.passed):
                if hasattr(report, "wasxfail"):
                    status = "XFAIL" if report.skipped else "XPASS"
                elif report.passed:
                    status = "PASSED"
                elif report.skipped:
                    status = "SKIPPED"
                else:
                    status = "FAILED" if report.when == "call" else "ERROR"
                emit(status, report.nodeid)
            elif report.when == "teardown" and report.failed:
                emit("ERROR", report.nodeid)

        def pytest_collectreport(self, report):
            if report.failed:
                emit("ERROR", report.nodeid)

    import pytest

    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(early_config):
        # Runs before any conftest or test module is imported: from then on the module is
        # not in sys.modules and the hooks are registered under a random name.
        sys.modules.pop(__name__, None)
        early_config.pluginmanager.register(Hooks(), "p" + secrets.token_hex(8))

    return pytest_load_initial_conftests


pytest_load_initial_conftests = _install()
del _install
'''.replace("__NONCE_FILE__", NONCE_FILE).replace("__RESULTS_FILE__", RESULTS_FILE)

UNITTEST_RUNNER = '''\
"""agentlab strict runner: `python3 -m agentlab_unittest <unittest args>`."""


def _main():
    import os
    import secrets
    import sys
    import unittest

    with open("__NONCE_FILE__") as fh:
        prefix = ("\\n@@%s " % fh.read().strip()).encode()
    os.unlink("__NONCE_FILE__")
    opened = os.open("__RESULTS_FILE__", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fd = os.dup2(opened, 900 + secrets.randbelow(90))
    os.close(opened)
    write, name_of = os.write, unittest.TestCase.__str__

    def emit(status, test):
        # The id exactly as `unittest -v` prints it, whatever the test class's __str__ says.
        line = "%s %s\\n" % (status, name_of(test))
        write(fd, prefix + line.encode("utf-8", "replace"))

    class Result(unittest.TextTestResult):
        def addSuccess(self, test):
            super().addSuccess(test)
            emit("PASSED", test)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            emit("FAILED", test)

        def addError(self, test, err):
            super().addError(test, err)
            if isinstance(test, unittest.TestCase):
                emit("ERROR", test)

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            emit("SKIPPED", test)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            emit("XFAIL", test)

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            emit("FAILED", test)

    runner = unittest.TextTestRunner(resultclass=Result, verbosity=2)
    argv = ["python3 -m unittest", *sys.argv[1:]]
    unittest.main(module=None, argv=argv, testRunner=runner)


if __name__ == "__main__":
    _main()
'''.replace("__NONCE_FILE__", NONCE_FILE).replace("__RESULTS_FILE__", RESULTS_FILE)
