"""The sandbox-side half of running untrusted programs: one confined process at a time.

:data:`PREAMBLE` is Python source that the runners of function tasks (HumanEval) and stdin/stdout
tasks prepend to their own loop and run as root inside a sandbox. It gives them:

- ``workdir(uid)``: a fresh scratch directory owned by ``uid`` (mode 0700);
- ``private()``: a fresh root-only directory (inputs, captured output) programs cannot open;
- ``next_uid()``: a uid no other program in this sandbox ever had, for the sandbox's whole
  life (a counter under a lock file), so a warm sandbox running many batches never reuses one;
- ``confined(argv, uid, work, wall, ...)``: start ``argv`` in its own session as ``uid`` with
  no supplementary groups, under ``RLIMIT_AS`` (memory), ``RLIMIT_CPU`` (optional),
  ``RLIMIT_FSIZE`` and ``RLIMIT_NPROC``; after ``wall`` seconds kill its whole process group;
  then kill every process of ``uid`` however it detached (``setsid``, double fork) and reap
  the program. Returns the exit status as ``subprocess`` reports it (negative = signal), its
  resource usage, and whether the wall clock ran out;
- ``reap(uid, work)``: kill every process of ``uid`` and delete its scratch directory and every
  file it owns where it could write. Runners call it in a ``finally``, on every path.

A program cannot reach the runner's stdout (where results are reported), the batch file, or
another program's files or processes: each program gets its own uid, used once.
"""

from __future__ import annotations

PREAMBLE = r"""
import fcntl, hashlib, json, os, resource, shutil, signal, subprocess, sys, tempfile, time

_UID_FILE = "/opt/agentlab/next_uid"
_FIRST_UID = 100000
# Where an unprivileged program can leave files (everything else is root's).
_SHARED = [d for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if os.path.isdir(d)]


def next_uid():
    os.makedirs(os.path.dirname(_UID_FILE), exist_ok=True)
    with open(_UID_FILE, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        text = fh.read().strip()
        uid = int(text) if text else _FIRST_UID
        fh.seek(0)
        fh.truncate()
        fh.write(str(uid + 1))
    return uid


def _processes_of(uid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat("/proc/" + name).st_uid != uid:
                continue
            with open("/proc/%s/stat" % name) as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie holds nothing; its parent (or tini) reaps it
        except OSError:
            continue
        found.append(int(name))
    return found


def kill_uid(uid):
    # Every process of the uid, however it detached: kill(-1) as that uid reaches all of them
    # in one call; repeat until none is left (a fork between two rounds is caught next round).
    for _ in range(200):
        pids = _processes_of(uid)
        if not pids:
            return
        child = os.fork()
        if child == 0:
            try:
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def reap(uid, work):
    kill_uid(uid)
    shutil.rmtree(work, ignore_errors=True)
    for top in _SHARED:
        subprocess.run(["find", top, "-xdev", "-user", str(uid), "-delete"],
                       stderr=subprocess.DEVNULL)


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
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the program left behind in its group
    except ProcessLookupError:
        pass
    kill_uid(uid)  # and whatever left the group (setsid daemons, double forks)
    return proc.returncode, usage, timed_out
"""
