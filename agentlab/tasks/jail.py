"""The sandbox-side half of running untrusted programs: one confined process at a time.

:data:`PREAMBLE` is Python source that the runners of function tasks (HumanEval) and stdin/stdout
tasks prepend to their own loop and run as root inside a sandbox. It gives them:

- ``workdir(uid)``: a fresh scratch directory owned by ``uid`` (mode 0700);
- ``private()``: a fresh root-only directory (inputs, captured output) programs cannot open;
- ``confined(argv, uid, work, wall, ...)``: start ``argv`` in its own session as ``uid`` with
  no supplementary groups, under ``RLIMIT_AS`` (memory), ``RLIMIT_CPU`` (optional),
  ``RLIMIT_FSIZE`` and ``RLIMIT_NPROC``; after ``wall`` seconds kill its whole process group;
  in every case kill what it left behind in its group and reap it. Returns the exit status as
  ``subprocess`` reports it (negative = signal), its resource usage, and whether the wall
  clock ran out.

A program cannot reach the runner's stdout (where results are reported), the batch file, or
another program's files: each program gets its own uid.
"""

from __future__ import annotations

PREAMBLE = r"""
import hashlib, json, os, resource, shutil, signal, subprocess, sys, tempfile, time


def _limits(memory, cpu, fsize, nproc):
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _dropper(uid, memory, cpu, fsize, nproc):
    def drop():
        os.setsid()
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        _limits(memory, cpu, fsize, nproc)
    return drop


def workdir(uid):
    path = tempfile.mkdtemp(prefix="run-")
    os.chown(path, uid, uid)
    os.chmod(path, 0o700)
    return path


def private():
    return tempfile.mkdtemp(prefix="priv-")  # root-owned, mode 0700


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


def confined(argv, uid, work, wall, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL, memory=1 << 30, cpu=None, fsize=1 << 24, nproc=64):
    proc = subprocess.Popen(
        argv, cwd=work, stdin=stdin, stdout=stdout, stderr=stderr,
        preexec_fn=_dropper(uid, memory, cpu, fsize, nproc),
        env={"PATH": "/usr/bin:/bin", "HOME": work, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    deadline = time.monotonic() + wall
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the program left behind
    except ProcessLookupError:
        pass
    return proc.returncode, usage, timed_out
"""
