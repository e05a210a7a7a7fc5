"""Warm containers for grading many candidates of one instance, with a verified reset.

Test-time compute grades k candidates per instance; a fresh container per candidate costs a
create, a start and a removal each time. :class:`WarmContainers` keeps a container per
(image, instance) after a candidate is graded, but only if a reset *and its verification*
succeed; otherwise the container is discarded and the next candidate gets a fresh one. The
candidate's ``run_instance.log`` says which container it got and what the reset found.

When a container is fresh, before any candidate runs, a snapshot is taken: the time (the
kernel's clock, which nothing in a container can set), the main process, ``HEAD``, ``git
status --ignored``, and the mode, owner and entry names of the scratch directories. The reset
after each candidate, as root, in one exec:

1. SIGKILLs every process but the container's init and main process (daemons, ``setsid``,
   double forks; repeated until none is left) and removes SysV IPC objects;
2. empties the tmpfs mounts (``/tmp``, ``/dev/shm``, ``/dev/mqueue``) and deletes what is new in
   the scratch directories (``/``, ``/opt``, ``/opt/agentlab`` -- the grader's staged files --,
   ``/root``, ``/var/tmp``);
3. lists every inode outside ``/testbed`` whose *ctime* is newer than the snapshot: a write,
   chmod, rename or new file anywhere (site-packages, a ``.pth``, ``/etc``, ``/usr``) shows, and
   ctime cannot be set back (``touch`` sets mtime). Any such path but a scratch directory is
   dirty; so is any change under ``.git`` but the index, ``ORIG_HEAD`` and reflogs, and any
   change to an ignored file the fresh repository had (an ``.egg-info``'s entry points);
4. only if nothing is dirty, runs git (hooks and fsmonitor off): ``reset --hard`` to the
   snapshot's ``HEAD`` and ``clean -ffdx`` keeping only the fresh ignored entries;
5. prints the snapshot's fields again; they must equal the fresh ones exactly (same processes,
   same ``HEAD``, a clean status, the same scratch listings).

Sandboxes without a ``kill``-able process table or GNU ``find`` fail step 5 and are never
reused. Images whose eval script writes outside ``/testbed`` (a ``pip install`` before the
tests) are dirty after every candidate: correct, just never warm. Python writes no bytecode in a
warm container (``PYTHONDONTWRITEBYTECODE=1``), so importing installed packages leaves no trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox, SandboxBackend
from agentlab.tasks.eval_records import EvalResult
from agentlab.tasks.scripts import GIT, TESTBED
from agentlab.types import SandboxSpec

SCRATCH = ("/", "/opt", "/opt/agentlab", "/root", "/var", "/var/tmp")
TMPFS = ("/tmp", "/dev/shm", "/dev/mqueue")
# Directories whose ctime any candidate changes (entries added and removed) or mount points.
_ALLOWED = {*SCRATCH, *TMPFS, "/dev"}
_STATE_MARK = "@@state"
_DIRTY = "DIRTY "
_GIT_ALLOWED = (".git", ".git/index", ".git/ORIG_HEAD")

# Never outside a container started with docker's init as PID 1 (the reset kills processes).
_GUARD = f"""[ "$(cat /proc/1/comm 2>/dev/null)" = docker-init ] || {{
  echo "{_DIRTY}not in a container with docker's init"; exit 3; }}
"""
# This shell and its ancestors (the exec's timeout wrapper): never listed, never killed.
_ANCESTORS = """
anc=" $$ "; p=$$
while [ "$p" -gt 1 ]; do
  read -r st < "/proc/$p/stat" || break
  rest=${st##*) }; set -- $rest; p=$2; anc="$anc$p "
done
"""
# Prints the state a reset must restore: processes (but this shell), HEAD, git status and the
# scratch directories. Builtins only while listing /proc, so no child of ours is in the list.
_STATE = f"""
echo {_STATE_MARK}
for d in /proc/[0-9]*; do
  p=${{d#/proc/}}
  case "$anc" in *" $p "*) continue;; esac
  read -r st < "$d/stat" 2>/dev/null || continue
  rest=${{st##*) }}
  [ "${{rest%% *}}" = Z ] && continue
  comm=${{st#*(}}
  echo "proc $p ${{comm%%)*}}"
done
cd {TESTBED} && echo "head $({GIT} rev-parse HEAD 2>&1)" && {GIT} status --porcelain --ignored
for d in {" ".join(SCRATCH)}; do
  echo "dir $d $(stat -c '%a %u %g' "$d" 2>&1)"; ls -A "$d" 2>&1
done
"""


@dataclass
class Snapshot:
    """What a fresh container looked like, to compare every reset with."""

    since: str
    main: tuple[str, ...]
    state: str
    ignored: tuple[str, ...]
    head: str


async def snapshot(sandbox: Sandbox) -> Snapshot:
    """The fresh container's state (taken before any candidate runs in it)."""
    script = "set -u\n" + _GUARD + "date +%s.%N\n" + _ANCESTORS + _STATE
    done = await sandbox.exec(["bash", "-c", script], timeout=120)
    if not done.ok:
        raise SandboxError(f"cannot take the warm snapshot: {done.stderr.strip()[-300:]}")
    since, _, state = done.stdout.partition("\n")
    lines = state.splitlines()
    procs = [line.split() for line in lines if line.startswith("proc ")]
    main = tuple(p[1] for p in procs if p[1] != "1")
    head = next((line[5:] for line in lines if line.startswith("head ")), "")
    ignored = tuple(line[3:] for line in lines if line.startswith("!! "))
    return Snapshot(since.strip(), main, state, ignored, head)


def reset_script(snap: Snapshot) -> str:
    """The reset and its verification (module docstring, steps 1-5), as one bash script."""
    keep = " ".join(["1", *snap.main])
    since = shlex.quote(f"@{snap.since}")
    new_entries = []
    for d in SCRATCH:
        fresh = _listing(snap.state, d)
        names = " ".join(shlex.quote(n) for n in fresh)
        new_entries.append(
            f'for e in $(ls -A {d}); do case " {names} " in *" $e "*) ;; '
            f'*) rm -rf -- "{d.rstrip("/")}/$e";; esac; done'
        )
    allowed = "|".join(sorted(_ALLOWED))
    git_ok = " ".join(f"! -path {TESTBED}/{p}" for p in _GIT_ALLOWED)
    ignored = [shlex.quote(f"{TESTBED}/{p.strip(chr(34)).rstrip('/')}") for p in snap.ignored]
    excludes = " ".join(f"-e {shlex.quote('/' + p.strip(chr(34)))}" for p in snap.ignored)
    return f"""set -u
{_GUARD}
{_ANCESTORS}
keep=" {keep} $anc"
for round in $(seq 60); do
  others=""
  for d in /proc/[0-9]*; do
    p=${{d#/proc/}}
    case "$keep" in *" $p "*) continue;; esac
    read -r st < "$d/stat" 2>/dev/null || continue
    rest=${{st##*) }}
    [ "${{rest%% *}}" = Z ] && continue
    others="$others $p"
  done
  [ -z "$others" ] && break
  kill -9 $others 2>/dev/null
  sleep 0.05
done
command -v ipcrm >/dev/null && ipcrm --all 2>/dev/null
for d in {" ".join(TMPFS)}; do [ -d "$d" ] && find "$d" -mindepth 1 -delete 2>/dev/null; done
set -f  # no pathname expansion of the names listed (a file named "*")
{chr(10).join(new_entries)}
set +f
dirty=0
while IFS= read -r f; do
  case "$f" in {allowed}) ;; *) echo "{_DIRTY}changed $f"; dirty=1;; esac
done < <(find / -xdev \\( -path /proc -o -path /sys -o -path {TESTBED} \\) -prune \\
          -o -newerct {since} -print 2>&1 | head -n 50)
for f in /etc/hosts /etc/hostname /etc/resolv.conf; do
  [ -n "$(find "$f" -newerct {since} 2>/dev/null)" ] && echo "{_DIRTY}changed $f" && dirty=1
done
for d in /tmp /dev/shm; do
  [ -z "$(ls -A $d 2>/dev/null)" ] || {{ echo "{_DIRTY}not empty: $d"; dirty=1; }}
done
while IFS= read -r f; do echo "{_DIRTY}changed $f"; dirty=1; done < <(
  find {TESTBED}/.git {git_ok} ! -path '{TESTBED}/.git/logs*' -newerct {since} -print 2>&1 \\
  | head -n 50
  {f"find {' '.join(ignored)} -newerct {since} -print 2>&1 | head -n 50" if ignored else ""})
[ "$dirty" = 0 ] || exit 0
cd {TESTBED} && {GIT} reset --hard -q {shlex.quote(snap.head)} \\
  && {GIT} clean -ffdxq {excludes} || echo "{_DIRTY}git reset failed"
{_STATE}
"""


def _listing(state: str, directory: str) -> list[str]:
    lines = state.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"dir {directory} "))
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("dir "):
            break
        out.append(line)
    return out


def verdict(snap: Snapshot, output: str) -> list[str]:
    """Why the container is not as fresh ([] when the reset is verified)."""
    reasons = [line[len(_DIRTY) :] for line in output.splitlines() if line.startswith(_DIRTY)]
    if reasons:
        return reasons
    _, mark, state = output.partition(_STATE_MARK)
    fresh = snap.state.partition(_STATE_MARK)[2]
    if not mark:
        return ["the reset did not finish"]
    if state.strip() != fresh.strip():
        before, after = set(fresh.splitlines()), set(state.splitlines())
        diff = [f"-{x}" for x in sorted(before - after)] + [f"+{x}" for x in sorted(after - before)]
        return ["state differs from the fresh container: " + "; ".join(diff[:10])]
    return []


def containerized(backend: SandboxBackend) -> bool:
    """Whether ``backend`` (or the backend a gated pool wraps) starts Docker containers: the
    process backend runs commands on the host, where a reset would kill the host's processes."""
    inner = getattr(backend, "backend", None)
    return backend.name == "docker" or (
        inner is not None and getattr(inner, "name", "") == "docker"
    )


@dataclass
class _Held:
    sandbox: Sandbox
    stack: contextlib.AsyncExitStack
    snap: Snapshot
    opened: float = field(default_factory=time.monotonic)
    uses: int = 0


Work = Callable[[Sandbox], Awaitable[EvalResult]]


class WarmContainers:
    """Containers kept warm per (image, instance) between candidates, each reset verified.

    ``max_idle`` bounds the containers kept across all keys (the least recently used go first),
    ``max_uses`` the candidates one container grades, and a container is retired at half its
    time to live (its main process ends the container at the TTL).
    """

    def __init__(self, backend: SandboxBackend, *, max_idle: int = 8, max_uses: int = 100) -> None:
        self.backend = backend
        # The reset kills every process it can see: only ever inside a container of our own.
        self.enabled = containerized(backend)
        self.max_idle = max_idle
        self.max_uses = max_uses
        self._idle: dict[str, list[_Held]] = {}
        self._order: list[_Held] = []
        self.fresh = self.reused = self.discarded = 0

    async def run(self, spec: SandboxSpec, key: str, work: Work) -> EvalResult:
        """Grade in a warm container for ``key`` (or a fresh one); reset and keep it after."""
        if not self.enabled:
            async with self.backend.open(spec) as sandbox:
                return await work(sandbox)
        spec = spec.model_copy(update={"env": {**spec.env, "PYTHONDONTWRITEBYTECODE": "1"}})
        slot = f"{spec.image}|{key}"
        held = self._take(slot)
        if held is None:
            held = await self._open(spec)
            note = "container: fresh (warm snapshot taken)\n"
        else:
            note = f"container: warm, reset verified, candidate {held.uses + 1} in it\n"
        try:
            result = await work(held.sandbox)
        except BaseException:
            await self._close(held)
            raise
        held.uses += 1
        started = time.monotonic()
        reasons = await self._reset(held)
        took = f"reset in {time.monotonic() - started:.2f} s"
        retire = time.monotonic() - held.opened > spec.ttl_s / 2 or held.uses >= self.max_uses
        if reasons:
            note += f"warm reset: container discarded ({took}): {'; '.join(reasons)}\n"
            await self._close(held)
        elif retire:
            note += f"warm reset: verified; container retired (age or uses; {took})\n"
            await self._close(held)
        else:
            note += f"warm reset: verified; container kept for the next candidate ({took})\n"
            await self._keep(slot, held)
        result.logs.run_log = note + result.logs.run_log
        return result

    def _take(self, slot: str) -> _Held | None:
        idle = self._idle.get(slot)
        if not idle:
            return None
        held = idle.pop()
        self._order.remove(held)
        self.reused += 1
        return held

    async def _open(self, spec: SandboxSpec) -> _Held:
        stack = contextlib.AsyncExitStack()
        try:
            sandbox = await stack.enter_async_context(self.backend.open(spec))
            snap = await snapshot(sandbox)
        except BaseException:
            await stack.aclose()
            raise
        self.fresh += 1
        return _Held(sandbox, stack, snap)

    async def _reset(self, held: _Held) -> list[str]:
        try:
            done = await held.sandbox.exec(["bash", "-c", reset_script(held.snap)], timeout=300)
        except SandboxError as exc:
            return [f"reset failed: {exc}"]
        if done.timed_out:
            return ["reset timed out"]
        return verdict(held.snap, done.stdout)

    async def _keep(self, slot: str, held: _Held) -> None:
        self._idle.setdefault(slot, []).append(held)
        self._order.append(held)
        while len(self._order) > self.max_idle:
            oldest = self._order.pop(0)
            for idle in self._idle.values():
                if oldest in idle:
                    idle.remove(oldest)
            await self._close(oldest, discarded=False)

    async def _close(self, held: _Held, *, discarded: bool = True) -> None:
        self.discarded += discarded
        with contextlib.suppress(SandboxError):
            await held.stack.aclose()

    async def aclose(self) -> None:
        """Remove every container still kept."""
        held, self._order = self._order, []
        self._idle.clear()
        await asyncio.gather(*(self._close(h, discarded=False) for h in held))
