"""Docker backend: the only module that imports the ``docker`` SDK.

Every blocking SDK call runs off the event loop, on the backend's own thread pools (execs on
one, container create/remove on another); every docker/requests error is
mapped to :mod:`agentlab.errors` here. An exec is one ``exec_create`` + ``exec_start`` (a
hijacked socket we read frame by frame, keeping at most the output cap) + ``exec_inspect`` —
the same three round trips as the SDK's own ``exec_run``, so the overhead stays near the floor.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import logging
import socket
import struct
import tarfile
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import docker
import docker.errors as derr
import requests

from agentlab.errors import SandboxDiedError, SandboxError, SandboxUnavailableError
from agentlab.sandbox import cleanup
from agentlab.sandbox.common import (
    CREATED_AT,
    EXEC_MARKER,
    OWNER_HOST,
    OWNER_PID,
    PROXY_HOST,
    PROXY_PORT,
    RUN_ID,
    TTL,
    CappedBuffer,
    make_labels,
    merged_env,
    pid_alive,
    to_argv,
    with_file_limit,
    with_timeout,
)
from agentlab.types import ExecResult, SandboxSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

HOW_TO_START = (
    "start one with `sudo dockerd &` (Debian: `apt-get install docker.io`) or point DOCKER_HOST "
    "at a running engine"
)
_ENGINE_ERRORS = (derr.DockerException, requests.exceptions.RequestException, OSError)
_READ_CHUNK = 1 << 16
# Files moved in or out through an exec are held in memory: bound them.
_TRANSFER_CAP = 1 << 30
# Threads for creating and removing containers (each call is short).
_LIFECYCLE_THREADS = 16


class _HostTimeout(Exception):
    """The exec did not finish within timeout + grace, seen from the host."""


# ------------------------------------------------------------------------------ engine


def connect(base_url: str | None = None, timeout: float = 60.0) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (default: DOCKER_HOST / the local socket).

    Raises SandboxUnavailableError in one line when no engine answers.
    """
    try:
        if base_url:
            client = docker.DockerClient(
                base_url=base_url, version="auto", timeout=int(timeout), max_pool_size=64
            )
        else:
            client = docker.from_env(version="auto", timeout=int(timeout), max_pool_size=64)
        client.ping()
    except _ENGINE_ERRORS as exc:
        where = base_url or "DOCKER_HOST or the local socket"
        raise SandboxUnavailableError(
            f"no Docker engine answers at {where}: {HOW_TO_START}"
        ) from exc
    return client


_shared_lock = threading.Lock()
_shared_clients: dict[str | None, docker.DockerClient] = {}


def shared_client(base_url: str | None = None) -> docker.DockerClient:
    """One client per engine URL for the module's helpers (gc, images), closed at exit."""
    with _shared_lock:
        client = _shared_clients.get(base_url)
        if client is None:
            if not _shared_clients:
                atexit.register(_close_shared)
            client = _shared_clients[base_url] = connect(base_url)
        return client


def _close_shared() -> None:
    with _shared_lock:
        clients = list(_shared_clients.values())
        _shared_clients.clear()
    for client in clients:
        with contextlib.suppress(*_ENGINE_ERRORS):
            client.close()


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    """Turn docker/requests errors into agentlab's, naming what we were doing."""
    try:
        yield
    except derr.ImageNotFound as exc:
        raise SandboxUnavailableError(
            f"{what}: image not found ({exc.explanation}); build it first, e.g. "
            "`agentlab sandbox build-base`"
        ) from exc
    except derr.NotFound as exc:
        raise SandboxDiedError(f"{what}: the container is gone ({exc.explanation})") from exc
    except derr.APIError as exc:
        raise SandboxError(f"{what}: engine refused ({exc.explanation})") from exc
    except _ENGINE_ERRORS as exc:
        raise SandboxUnavailableError(
            f"{what}: engine unreachable ({exc}); {HOW_TO_START}"
        ) from exc


# ------------------------------------------------------------------------------ backend


class _Resources:
    """What a backend holds open: its client and its two thread pools. Closed exactly once."""

    def __init__(self, base_url: str | None, timeout_s: float, exec_threads: int) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.client: docker.DockerClient | None = None
        self.lock = threading.Lock()
        # Execs block a thread for as long as the command runs: they get a large pool of their
        # own, so they never wait behind a small default executor, and create/remove get a
        # separate one, so removing a container is never queued behind running execs.
        self.execs = ThreadPoolExecutor(exec_threads, thread_name_prefix="agentlab-exec")
        self.lifecycle = ThreadPoolExecutor(_LIFECYCLE_THREADS, thread_name_prefix="agentlab-life")

    def connected(self) -> docker.DockerClient:
        with self.lock:
            if self.client is None:
                self.client = connect(self.base_url, self.timeout_s)
            return self.client

    def close(self) -> None:
        self.execs.shutdown(wait=False, cancel_futures=True)
        self.lifecycle.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(*_ENGINE_ERRORS):
                client.close()


class DockerBackend:
    """Starts sandboxes as Docker containers with limits, labels and a TTL.

    One SDK client per backend (its ``client_timeout_s`` bounds ordinary engine requests, never
    an exec's wait), closed by :meth:`close` or at interpreter exit.
    """

    name = "docker"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        exec_grace_s: float = 5.0,
        client_timeout_s: float = 60.0,
        exec_threads: int = 256,
    ) -> None:
        self._res = _Resources(base_url, client_timeout_s, exec_threads)
        self._closer = weakref.finalize(self, self._res.close)
        self.exec_grace_s = exec_grace_s

    def client(self) -> docker.DockerClient:
        """The shared SDK client, connected on first use (blocking; call off the loop)."""
        return self._res.connected()

    def close(self) -> None:
        """Close the client and the thread pools (idempotent). Open sandboxes stop working."""
        self._closer()

    @contextlib.asynccontextmanager
    async def open(self, spec: SandboxSpec) -> AsyncIterator[DockerSandbox]:
        """Start a container for ``spec``; it is removed however the block ends."""
        res = self._res
        client = await _in(res.lifecycle, self.client)
        # We name the container ourselves and register it before creating it, so that even a
        # create cut short by cancellation or a signal leaves something we can find and remove.
        name = f"agentlab-{uuid.uuid4().hex[:16]}"
        remove = _remover(client, name)
        if not cleanup.register(name, remove):
            raise asyncio.CancelledError("shutting down: no new sandboxes are started")
        try:
            async with self._proxy_network(client, spec, name) as network:
                # Never abandon a create in its thread: a removal racing it would find nothing
                # and the container would appear afterwards, owned by no one.
                cid = await _uninterrupted(
                    _in(res.lifecycle, _create_settled, client, spec, name, network)
                )
                try:
                    yield DockerSandbox(
                        client, cid, spec, grace_s=self.exec_grace_s, pool=res.execs
                    )
                finally:  # the sandbox goes before its network can
                    await _uninterrupted(_in(res.lifecycle, remove))
        finally:
            try:
                await _uninterrupted(_in(res.lifecycle, remove))
            finally:
                cleanup.unregister(name)

    @contextlib.asynccontextmanager
    async def _proxy_network(
        self, client: docker.DockerClient, spec: SandboxSpec, name: str
    ) -> AsyncIterator[str | None]:
        """For ``spec.proxy_socket``: a private network and its forwarder; else nothing.

        The network is ``internal`` (no route out) and the host gets no address on it
        (``inhibit_ipv4``), so the only thing a sandbox on it reaches is the forwarder, a
        container on that network alone that relays ``PROXY_HOST:PROXY_PORT`` to the host's
        Unix socket, bind-mounted in. Both carry the run's labels for the reaper.
        """
        if spec.proxy_socket is None:
            yield None
            return
        if spec.network:
            raise SandboxError("SandboxSpec: proxy_socket and network=True exclude each other")
        res, net, fwd = self._res, f"{name}-net", f"{name}-proxy"
        drop_fwd = _remover(client, fwd)

        def drop_net() -> None:
            with contextlib.suppress(derr.NotFound):
                client.api.remove_network(net)

        def drop_both() -> None:
            drop_fwd()
            drop_net()

        if not cleanup.register(fwd, drop_both):
            raise asyncio.CancelledError("shutting down: no new sandboxes are started")
        try:
            await _uninterrupted(_in(res.lifecycle, _create_forwarder, client, spec, net, fwd))
            yield net
        finally:
            try:
                await _uninterrupted(_in(res.lifecycle, drop_fwd))
                await _uninterrupted(_in(res.lifecycle, drop_net))
            finally:
                cleanup.unregister(fwd)


async def _in(pool: Executor, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ``fn`` on ``pool`` (not the loop's small default executor)."""
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


async def _uninterrupted(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` to its end even if cancelled meanwhile; then re-raise the cancellation."""
    fut = asyncio.ensure_future(work)
    cancelled = False
    while not fut.done():
        try:
            await asyncio.wait([fut])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not fut.cancelled():
            fut.exception()  # retrieved: the cancellation is what the caller sees
        raise asyncio.CancelledError
    return fut.result()


def _create_settled(
    client: docker.DockerClient, spec: SandboxSpec, name: str, network: str | None = None
) -> str:
    if not cleanup.begin_create(name):
        raise SandboxDiedError("shutdown began before the sandbox was started")
    try:
        cid = _create(client, spec, name, network)
    finally:
        wanted = cleanup.settle(name)
    if not wanted:
        raise SandboxDiedError("the sandbox was removed by shutdown while it started")
    return cid


def _remover(client: docker.DockerClient, name: str) -> Any:
    def remove() -> None:
        try:
            client.api.remove_container(name, force=True, v=True)
        except derr.NotFound:
            pass
        except derr.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise
            _wait_gone(client, name)

    return remove


def _wait_gone(client: docker.DockerClient, name: str, limit_s: float = 30.0) -> None:
    """Someone else is removing the container: return once it is really gone."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            client.api.inspect_container(name)
        except derr.NotFound:
            return
        time.sleep(0.05)
    log.warning("container %s still not gone after %.0f s", name, limit_s)


# The forwarder: TCP on PROXY_PORT -> the host's Unix socket, both directions, stdlib only.
_FORWARDER = """
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception: pass
    finally: w.close()
async def serve(r, w):
    try: ur, uw = await asyncio.open_unix_connection(sys.argv[1])
    except Exception: w.close(); return
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
async def main():
    server = await asyncio.start_server(serve, "0.0.0.0", int(sys.argv[2]))
    await server.serve_forever()
asyncio.run(main())
"""


def _create_forwarder(client: docker.DockerClient, spec: SandboxSpec, net: str, name: str) -> None:
    api = client.api
    socket_path = PurePosixPath(spec.proxy_socket or "")
    with _mapped("creating the sandbox's proxy network"):
        api.create_network(
            net,
            driver="bridge",
            internal=True,
            options={"com.docker.network.bridge.inhibit_ipv4": "true"},
            labels=make_labels(spec),
        )
        host_config = api.create_host_config(
            init=True,
            auto_remove=True,
            nano_cpus=int(0.5e9),
            mem_limit="128m",
            pids_limit=64,
            security_opt=["no-new-privileges"],
            network_mode=net,
            binds={str(socket_path.parent): {"bind": "/agentlab-proxy", "mode": "rw"}},
        )
        endpoint = api.create_networking_config(
            {net: api.create_endpoint_config(aliases=[PROXY_HOST])}
        )
        argv = ["python3", "-c", _FORWARDER, f"/agentlab-proxy/{socket_path.name}"]
        created = api.create_container(
            spec.image,
            command=["timeout", f"{max(int(spec.ttl_s), 1)}", *argv, str(PROXY_PORT)],
            name=name,
            labels=make_labels(spec),
            host_config=host_config,
            networking_config=endpoint,
        )
        api.start(created["Id"])


def _create(
    client: docker.DockerClient, spec: SandboxSpec, name: str, network: str | None = None
) -> str:
    api = client.api
    host_config = api.create_host_config(
        init=True,  # docker's tini as PID 1 reaps zombies
        auto_remove=True,
        nano_cpus=int(spec.cpus * 1e9),
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",  # equal to memory: no swap
        pids_limit=spec.pids_limit,
        tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={spec.tmp_mb}m,mode=1777"},
        security_opt=["no-new-privileges"],
        network_mode=network or ("bridge" if spec.network else "none"),
    )
    # Low-level create: unlike containers.run it never pulls, so a missing image is an error
    # here rather than a request to some registry.
    with _mapped(f"starting a sandbox from {spec.image!r}"):
        try:
            created = api.create_container(
                spec.image,
                # `sleep` ends the container after the TTL even if no one removes it, and
                # auto_remove then deletes it.
                command=["sleep", f"{max(int(spec.ttl_s), 1)}"],
                name=name,
                labels=make_labels(spec),
                environment=dict(spec.env),
                working_dir=spec.workdir,
                host_config=host_config,
            )
        except derr.ImageNotFound as exc:
            raise SandboxUnavailableError(
                f"image {spec.image!r} is not present; build it first "
                "(`agentlab sandbox build-base` for the base image)"
            ) from exc
        api.start(created["Id"])
    return str(created["Id"])


# ------------------------------------------------------------------------------ sandbox


class DockerSandbox:
    """One running container. Methods are safe to call concurrently from many tasks."""

    def __init__(
        self,
        client: docker.DockerClient,
        cid: str,
        spec: SandboxSpec,
        *,
        grace_s: float,
        pool: Executor,
    ) -> None:
        self._pool = pool
        self._client = client
        self._api = client.api
        self._cid = cid
        self.spec = spec
        self._grace_s = grace_s
        self._oom_kills = 0

    @property
    def id(self) -> str:
        return self._cid

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        """Run ``cmd``; see :class:`agentlab.protocols.Sandbox`."""
        argv = with_timeout(with_file_limit(to_argv(cmd), self.spec.file_size_mb), timeout)
        marker = uuid.uuid4().hex
        full_env = merged_env(env, {EXEC_MARKER: marker})
        data = stdin.encode() if isinstance(stdin, str) else stdin
        deadline = None if timeout is None else timeout + self._grace_s
        started = time.monotonic()
        code, out, err = await _in(self._pool, self._run, argv, full_env, cwd, data, deadline)
        duration = time.monotonic() - started
        timed_out = code is None or (
            timeout is not None and code in (124, 137) and duration >= timeout
        )
        if code is None:  # the in-container timeout failed us; kill the tree from here
            await _in(self._pool, self._kill_marked, marker)
        oom = False
        if code == 137 and not timed_out:
            oom = await _in(self._pool, self._oom_happened)
        return ExecResult(
            exit_code=124 if timed_out else int(code if code is not None else 124),
            stdout=out.text(),
            stderr=err.text(),
            duration_s=duration,
            timed_out=timed_out,
            oom_killed=oom,
            truncated=out.truncated or err.truncated,
        )

    def _run(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        stdin: bytes | None,
        deadline_s: float | None,
        cap: int | None = None,
    ) -> tuple[int | None, CappedBuffer, CappedBuffer]:
        cap = cap or self.spec.output_cap_bytes
        out, err = CappedBuffer(cap), CappedBuffer(cap)
        with _mapped("exec in sandbox"):
            exec_id = self._api.exec_create(
                self._cid, argv, stdin=stdin is not None, environment=env, workdir=cwd
            )["Id"]
            conn = self._api.exec_start(exec_id, socket=True)
            raw: socket.socket = getattr(conn, "_sock", conn)
            end = None if deadline_s is None else time.monotonic() + deadline_s
            try:
                if stdin is not None:
                    _feed_stdin(raw, stdin)
                _read_frames(raw, end, out, err)
            except _HostTimeout:
                return None, out, err
            finally:
                conn.close()
            return self._exit_code(exec_id), out, err

    def _exit_code(self, exec_id: str) -> int:
        for _ in range(200):
            info = self._api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.005)  # the stream can close a moment before the exit is recorded
        raise SandboxDiedError(f"exec {exec_id[:12]} never reported an exit code")

    def _kill_marked(self, marker: str) -> None:
        """SIGKILL every process whose environment carries this exec's marker."""
        script = (
            f"for p in /proc/[0-9]*; do grep -qsz '{EXEC_MARKER}={marker}' $p/environ "
            "&& kill -9 ${p#/proc/} 2>/dev/null; done; true"
        )
        try:
            with _mapped("killing a timed-out exec"):
                exec_id = self._api.exec_create(self._cid, ["sh", "-c", script])["Id"]
                self._api.exec_start(exec_id)
                if self._api.exec_inspect(exec_id).get("ExitCode") == 0:
                    return
        except SandboxError as exc:
            log.warning("host-side kill failed (%s); restarting the container", exc)
        # Cannot even start a process (e.g. the pids limit is exhausted): restart the
        # container, which kills everything in it. Files on the root survive; /tmp does not.
        with _mapped("restarting a wedged sandbox"):
            self._api.restart(self._cid, timeout=0)

    def _oom_happened(self) -> bool:
        """Whether the memory cgroup's OOM-kill counter rose since we last looked."""
        probe = (
            "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events "
            "2>/dev/null; true"
        )
        try:
            with _mapped("reading OOM events"):
                exec_id = self._api.exec_create(self._cid, ["sh", "-c", probe])["Id"]
                text = self._api.exec_start(exec_id).decode("utf-8", "replace")
        except SandboxError:
            text = ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                count = int(value)
                rose = count > self._oom_kills
                self._oom_kills = count
                return rose
        with _mapped("inspecting the container"):  # no cgroup view: ask the engine
            state = self._api.inspect_container(self._cid)["State"]
        return bool(state.get("OOMKilled"))

    async def read_file(self, path: str) -> bytes:
        """The bytes of one file in the sandbox."""
        return await _in(self._pool, self._read_file, path)

    def _read_file(self, path: str) -> bytes:
        # Through `cat` inside the container: the engine's archive API cannot see tmpfs mounts.
        code, out, err = self._pull(["cat", "--", path])
        if code != 0:
            raise SandboxError(f"reading {path}: {_last_line(err, code)}")
        return out.data()

    def _pull(self, argv: list[str]) -> tuple[int | None, CappedBuffer, CappedBuffer]:
        """Run a command whose stdout is file content; refuse content past the transfer cap."""
        code, out, err = self._run(argv, {}, None, None, 600.0, cap=_TRANSFER_CAP)
        if out.truncated:
            raise SandboxError(f"{argv[-1]}: larger than {_TRANSFER_CAP >> 20} MB; copy less")
        return code, out, err

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        """Create or replace one file (parent directories are created)."""
        payload = data.encode() if isinstance(data, str) else data
        await _in(self._pool, self._write_file, path, payload, mode)

    def _write_file(self, path: str, data: bytes, mode: int) -> None:
        target = PurePosixPath(path)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(target.name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        self._put(str(target.parent), buf.getvalue())

    def _put(self, parent: str, archive: bytes) -> None:
        # Unpacked by `tar` inside the container rather than the engine's archive API: that API
        # cannot write into tmpfs mounts (like /tmp) and refuses read-only roots, while an exec
        # reaches every path the sandbox's own processes can.
        script = 'mkdir -p -- "$1" && exec tar -x --no-same-owner --no-overwrite-dir -f - -C "$1"'
        code, _out, err = self._run(["sh", "-c", script, "sh", parent], {}, None, archive, 300.0)
        if code != 0:
            raise SandboxError(f"writing into {parent}: {_last_line(err, code)}")

    async def copy_in(self, src: Path, dest: str) -> None:
        """Copy a host file or tree to ``dest`` (the tree's contents land in ``dest``)."""
        await _in(self._pool, self._copy_in, Path(src), dest)

    def _copy_in(self, src: Path, dest: str) -> None:
        if not src.exists():
            raise FileNotFoundError(f"copy_in: {src} does not exist on the host")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if src.is_dir():
                for child in sorted(src.iterdir()):
                    tar.add(child, arcname=child.name)
                parent = dest
            else:
                tar.add(src, arcname=PurePosixPath(dest).name)
                parent = str(PurePosixPath(dest).parent)
        self._put(parent, buf.getvalue())

    async def copy_out(self, src: str, dest: Path) -> None:
        """Copy a file or tree from the sandbox to ``dest`` on the host."""
        await _in(self._pool, self._copy_out, src, Path(dest))

    def _copy_out(self, src: str, dest: Path) -> None:
        top = PurePosixPath(src)
        # `tar` inside the container, like _read_file: it sees tmpfs mounts too.
        code, out, err = self._pull(["tar", "-c", "-f", "-", "-C", str(top.parent), top.name])
        if code != 0:
            raise SandboxError(f"copying {src} out: {_last_line(err, code)}")
        with tarfile.open(fileobj=io.BytesIO(out.data())) as tar:
            _extract(tar, top.name, dest)


def _last_line(err: CappedBuffer, code: int | None) -> str:
    lines = err.text().strip().splitlines()
    return lines[-1] if lines else f"exit {code}"


def _extract(tar: tarfile.TarFile, top: str, dest: Path) -> None:
    """Extract the archive of ``top`` so that ``dest`` becomes that file or directory."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    for member in tar.getmembers():
        rel = PurePosixPath(member.name).relative_to(top)
        if ".." in rel.parts:
            raise SandboxError(f"copy_out: refusing path {member.name!r} outside the tree")
        member.name = str(rel)
        target = dest / rel
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = tar.extractfile(member)
            assert handle is not None
            target.write_bytes(handle.read())
            target.chmod(member.mode & 0o777)
        elif member.issym():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.symlink_to(member.linkname)


# ------------------------------------------------------------------------------ exec I/O


def _feed_stdin(raw: socket.socket, data: bytes) -> None:
    """Write stdin from a helper thread, so a chatty command cannot deadlock us, then EOF."""

    def write() -> None:
        with contextlib.suppress(OSError):
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)

    threading.Thread(target=write, daemon=True, name="agentlab-stdin").start()


def _read_frames(
    raw: socket.socket, end: float | None, out: CappedBuffer, err: CappedBuffer
) -> None:
    """Demultiplex docker's framed stream (8-byte header: stream id, size) into two buffers."""
    buf = bytearray()
    need: int | None = None  # payload size of the frame being read, once its header is in
    sink = out
    if end is None:
        # No deadline: wait as long as the command runs. Without this the socket keeps the
        # client's request timeout, and a command silent for that long was cut and reported
        # as timed out.
        raw.settimeout(None)
    while True:
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                raise _HostTimeout
            raw.settimeout(left)
        try:
            chunk = raw.recv(_READ_CHUNK)
        except TimeoutError as exc:
            raise _HostTimeout from exc
        if not chunk:
            return
        buf += chunk
        while True:
            if need is None:
                if len(buf) < 8:
                    break
                sink = err if buf[0] == 2 else out
                (need,) = struct.unpack(">I", buf[4:8])
                del buf[:8]
            take = min(need, len(buf))
            if take:
                sink.feed(memoryview(buf)[:take])
                del buf[:take]
                need -= take
            if need:
                break
            need = None


# ------------------------------------------------------------------------------ janitor


def gc(
    ttl_s: float | None = None,
    *,
    everything: bool = False,
    run_id: str | None = None,
    base_url: str | None = None,
) -> list[str]:
    """Remove agentlab containers left behind; returns the names removed (blocking).

    A container goes if ``everything`` is set, if it has stopped, if its owner process is
    gone (when it was started on this host), or if it is older than ``ttl_s`` (default: the
    TTL it was labelled with). ``run_id`` limits it to one run's containers.
    """
    client = shared_client(base_url)
    host = socket.gethostname()
    now = time.time()
    removed: list[str] = []
    with _mapped("listing agentlab containers"):
        label = RUN_ID if run_id is None else f"{RUN_ID}={run_id}"
        containers = client.api.containers(all=True, filters={"label": label})
    for info in containers:
        labels: dict[str, str] = info.get("Labels") or {}
        name = (info.get("Names") or ["/" + info["Id"][:12]])[0].lstrip("/")
        if everything or _stale(info, labels, host, now, ttl_s):
            try:
                _remover(client, info["Id"])()
                removed.append(name)
            except _ENGINE_ERRORS as exc:
                log.warning("gc: could not remove %s: %s", name, exc)
    # Proxy networks (SandboxSpec.proxy_socket): once their containers are gone, by the same rule.
    with _mapped("listing agentlab networks"):
        networks = client.api.networks(filters={"label": label})
    for info in networks:
        labels = info.get("Labels") or {}
        if everything or _stale({"State": "running"}, labels, host, now, ttl_s):
            try:
                client.api.remove_network(info["Id"])
                removed.append(str(info.get("Name", info["Id"])))
            except _ENGINE_ERRORS as exc:
                log.warning("gc: could not remove network %s: %s", info.get("Name"), exc)
    return removed


def _stale(
    info: dict[str, Any], labels: dict[str, str], host: str, now: float, ttl_s: float | None
) -> bool:
    if info.get("State") not in ("running", "created", "restarting", "paused"):
        return True
    try:
        pid = int(labels.get(OWNER_PID, "0"))
        created = float(labels.get(CREATED_AT, "0"))
        ttl = ttl_s if ttl_s is not None else float(labels.get(TTL, "0"))
    except ValueError:
        return True  # labels we did not write: not ours to trust, reap it
    if labels.get(OWNER_HOST) == host and pid and not pid_alive(pid):
        return True
    return ttl > 0 and now - created > ttl


# ------------------------------------------------------------------------------ images
# Blocking helpers for agentlab.sandbox.images, which owns the policy (what to build, tags).


def image_exists(tag: str, base_url: str | None = None) -> bool:
    """Whether the engine has an image with this tag (blocking)."""
    client = shared_client(base_url)
    try:
        client.api.inspect_image(tag)
    except derr.ImageNotFound:
        return False
    except derr.NotFound:
        return False
    return True


def try_pull(image: str, base_url: str | None = None) -> bool:
    """Pull ``image`` if no copy is present; False when no registry answers (blocking)."""
    if image_exists(image, base_url):
        return True
    client = shared_client(base_url)
    try:
        client.api.pull(image)
    except _ENGINE_ERRORS as exc:
        log.info("cannot pull %s: %s", image, exc)
        return False
    return True


def import_rootfs(
    chunks: Iterator[bytes], tag: str, changes: Sequence[str], base_url: str | None = None
) -> str:
    """``docker import`` a streamed root-filesystem tarball as ``tag`` (blocking)."""
    client = shared_client(base_url)
    repo, _, version = tag.rpartition(":")
    with _mapped(f"importing {tag}"):
        client.api.import_image_from_stream(
            chunks, repository=repo, tag=version, changes=list(changes)
        )
    if not image_exists(tag, base_url):
        raise SandboxError(f"importing {tag}: the engine did not create the image")
    return tag


def build_context(
    context: bytes,
    tag: str,
    *,
    labels: Mapping[str, str],
    network: bool,
    base_url: str | None = None,
    timeout_s: float = 3600.0,
) -> str:
    """``docker build`` from an in-memory tar context holding a Dockerfile (blocking)."""
    client = shared_client(base_url)
    log_tail: list[str] = []
    with _mapped(f"building {tag}"):
        for item in client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            labels=dict(labels),
            network_mode="bridge" if network else "none",
            rm=True,
            forcerm=True,
            timeout=int(timeout_s),
            decode=True,
        ):
            if "stream" in item:
                log_tail = [*log_tail[-30:], str(item["stream"]).rstrip()]
            if "error" in item:
                tail = "\n".join(log_tail[-15:])
                raise SandboxError(f"building {tag} failed: {item['error']}\n{tail}")
    return tag


def list_images(prefix: str = "agentlab/", base_url: str | None = None) -> list[dict[str, Any]]:
    """Images whose tags start with ``prefix``: tag, id, size (bytes), created (unix time)."""
    client = shared_client(base_url)
    rows: list[dict[str, Any]] = []
    with _mapped("listing images"):
        for info in client.api.images():
            for tag in info.get("RepoTags") or []:
                if tag.startswith(prefix):
                    rows.append(
                        {
                            "tag": tag,
                            "id": info["Id"],
                            "size": int(info.get("Size", 0)),
                            "created": float(info.get("Created", 0)),
                        }
                    )
    return rows


def remove_image(tag: str, base_url: str | None = None) -> bool:
    """Remove one image tag; False if an existing container still uses it (blocking)."""
    client = shared_client(base_url)
    try:
        client.api.remove_image(tag)
    except derr.ImageNotFound:
        return True
    except derr.APIError as exc:
        log.warning("cannot remove %s: %s", tag, exc.explanation)
        return False
    return True
