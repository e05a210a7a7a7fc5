"""Process backend: for machines without Docker. It isolates far less than a container.

Each sandbox is a temporary directory; absolute sandbox paths map into it (``/data/a`` is
``<tmp>/data/a``). Commands run in their own session (so a timeout kills the whole process
group) under rlimits for CPU time, address space, process count and file size, and — where
the kernel lets us create one — in a fresh network namespace with only ``lo`` (``unshare -rn``).
There is no filesystem isolation: a command can read and write anything the user can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

from agentlab.errors import SandboxError, SandboxUnavailableError
from agentlab.sandbox.common import CappedBuffer, to_argv
from agentlab.types import ExecResult, SandboxSpec

log = logging.getLogger(__name__)

_NET_PROBE: bool | None = None


def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` works here (checked once per process)."""
    global _NET_PROBE
    if _NET_PROBE is None:
        unshare = shutil.which("unshare")
        ok = False
        if unshare:
            done = subprocess.run(
                [unshare, "-rn", "true"], capture_output=True, timeout=10, check=False
            )
            ok = done.returncode == 0
        _NET_PROBE = ok
    return _NET_PROBE


class ProcessBackend:
    """Runs sandboxes as local processes in a temp dir. Chosen only when asked for."""

    name = "process"

    def __init__(self, root_dir: str | None = None) -> None:
        self._root_dir = root_dir
        log.warning(
            "process sandbox backend: commands run as local processes with rlimits only; "
            "no filesystem isolation and weaker limits than Docker"
        )

    @contextlib.asynccontextmanager
    async def open(self, spec: SandboxSpec) -> AsyncIterator[ProcessSandbox]:
        """Create the temp dir (removed on exit, however the block ends)."""
        if spec.proxy_socket is not None:
            raise SandboxUnavailableError(
                "process sandbox: a proxy-only network (SandboxSpec.proxy_socket) needs the "
                "docker provider; use --sandbox docker"
            )
        isolate = spec.network is False and await asyncio.to_thread(network_namespace_available)
        if not spec.network and not isolate:
            log.warning(
                "process sandbox: cannot create a network namespace here (unshare -rn "
                "failed); commands DO have network access"
            )
        root = Path(tempfile.mkdtemp(prefix="agentlab-proc-", dir=self._root_dir))
        try:
            yield ProcessSandbox(root, spec, isolate_network=isolate)
        finally:
            await asyncio.to_thread(shutil.rmtree, root, True)


class ProcessSandbox:
    """One temp-dir sandbox; see :class:`agentlab.protocols.Sandbox`."""

    def __init__(self, root: Path, spec: SandboxSpec, *, isolate_network: bool) -> None:
        self.root = root
        self.spec = spec
        self.isolate_network = isolate_network
        self._id = f"proc-{uuid.uuid4().hex[:12]}"
        self.host_path(spec.workdir).mkdir(parents=True, exist_ok=True)
        self.host_path("/tmp").mkdir(parents=True, exist_ok=True)

    @property
    def id(self) -> str:
        return self._id

    def host_path(self, path: str) -> Path:
        """Where a sandbox path lives on the host (inside the temp dir)."""
        # normpath on a rooted path cannot climb above "/", so ".." never escapes the root.
        rel = os.path.normpath("/" + path).lstrip("/")
        return self.root / rel

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        """Run ``cmd`` in its own session; on timeout the whole process group is killed."""
        argv = to_argv(cmd)
        if self.isolate_network:
            argv = ["unshare", "-rn", *argv]
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "TMPDIR": str(self.host_path("/tmp")),
            "SANDBOX_ROOT": str(self.root),
            **self.spec.env,
            **(env or {}),
        }
        workdir = self.host_path(cwd or self.spec.workdir)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env=full_env,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_limits(self.spec, timeout),
        )
        cap = self.spec.output_cap_bytes
        out, err = CappedBuffer(cap), CappedBuffer(cap)
        timed_out = False
        try:
            await asyncio.wait_for(_communicate(proc, data, out, err), timeout)
        except TimeoutError:
            timed_out = True
        finally:
            _kill_group(proc.pid)  # also reaps stragglers left after a normal exit
            code = await proc.wait()
        return ExecResult(
            exit_code=124 if timed_out else code,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
        )

    async def read_file(self, path: str) -> bytes:
        """The bytes of one file in the sandbox."""
        return await asyncio.to_thread(self.host_path(path).read_bytes)

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        """Create or replace one file (parent directories are created)."""
        target = self.host_path(path)
        payload = data.encode() if isinstance(data, str) else data

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
            target.chmod(mode)

        await asyncio.to_thread(write)

    async def copy_in(self, src: Path, dest: str) -> None:
        """Copy a host file or tree into the sandbox."""
        await asyncio.to_thread(_copy, Path(src), self.host_path(dest))

    async def copy_out(self, src: str, dest: Path) -> None:
        """Copy a file or tree out of the sandbox."""
        await asyncio.to_thread(_copy, self.host_path(src), Path(dest))


def _copy(src: Path, dest: Path) -> None:
    if not src.exists():
        raise SandboxError(f"copy: {src} does not exist")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)


def _limits(spec: SandboxSpec, timeout: float | None) -> Callable[[], None]:
    """rlimits applied in the child before exec (RLIMIT_NPROC counts all of the user's
    processes and is ignored for root; RLIMIT_AS bounds each process, not the tree)."""
    cpu = int(timeout) + 1 if timeout is not None else None
    memory = spec.memory_mb * 1024 * 1024
    fsize = spec.tmp_mb * 1024 * 1024

    def apply() -> None:
        if cpu is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NPROC, (spec.pids_limit, spec.pids_limit))

    return apply


async def _communicate(
    proc: asyncio.subprocess.Process, data: bytes | None, out: CappedBuffer, err: CappedBuffer
) -> None:
    async def pump(stream: asyncio.StreamReader | None, sink: CappedBuffer) -> None:
        if stream is None:
            return
        while chunk := await stream.read(1 << 16):
            sink.feed(chunk)

    async def feed() -> None:
        if proc.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if data:
                proc.stdin.write(data)
                await proc.stdin.drain()
            proc.stdin.close()

    await asyncio.gather(feed(), pump(proc.stdout, out), pump(proc.stderr, err))
    await proc.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
