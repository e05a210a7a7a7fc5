"""Pieces both backends share: the output cap, container labels, command shaping."""

from __future__ import annotations

import os
import shlex
import socket
import time
from collections.abc import Mapping, Sequence

from agentlab.types import SandboxSpec

LABEL_PREFIX = "agentlab."
RUN_ID = "agentlab.run_id"
OWNER_PID = "agentlab.owner_pid"
OWNER_HOST = "agentlab.owner_host"
CREATED_AT = "agentlab.created_at"
TTL = "agentlab.ttl"
# Exported into every exec so the host can find (and kill) that exec's whole process tree even
# if a child called setsid() and left the process group.
EXEC_MARKER = "AGENTLAB_EXEC_ID"
# Where a sandbox with ``SandboxSpec.proxy_socket`` finds the host's proxy.
PROXY_HOST = "agentlab-proxy"
PROXY_PORT = 8080


def truncation_marker(cap: int) -> bytes:
    """The visible line appended to a stream cut at ``cap`` bytes."""
    return f"\n[agentlab: output truncated after {cap} bytes]\n".encode()


class CappedBuffer:
    """Keeps the first ``cap`` bytes of a stream and counts (but drops) the rest.

    Memory stays bounded however much a command prints; the caller keeps draining the
    stream so the command is never blocked on a full pipe.
    """

    __slots__ = ("_chunks", "cap", "kept", "total")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = 0
        self.total = 0
        self._chunks: list[bytes] = []

    def feed(self, data: bytes | memoryview) -> None:
        self.total += len(data)
        room = self.cap - self.kept
        if room <= 0:
            return
        piece = bytes(data[:room])
        self._chunks.append(piece)
        self.kept += len(piece)

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def data(self) -> bytes:
        """The kept bytes, undecoded."""
        return b"".join(self._chunks)

    def text(self) -> str:
        """Decoded output (UTF-8, invalid bytes replaced), with the marker if it was cut."""
        body = b"".join(self._chunks)
        if self.truncated:
            body += truncation_marker(self.cap)
        return body.decode("utf-8", errors="replace")


def make_labels(spec: SandboxSpec) -> dict[str, str]:
    """Labels every sandbox carries, so ``gc`` can tell whose it is and how old."""
    labels = dict(spec.labels)
    labels.update(
        {
            RUN_ID: spec.run_id,
            OWNER_PID: str(os.getpid()),
            OWNER_HOST: socket.gethostname(),
            CREATED_AT: f"{time.time():.3f}",
            TTL: f"{spec.ttl_s:.0f}",
        }
    )
    return labels


def to_argv(cmd: str | Sequence[str]) -> list[str]:
    """A shell string runs under ``sh -c``; a sequence is an argv as given."""
    if isinstance(cmd, str):
        return ["sh", "-c", cmd]
    argv = list(cmd)
    if not argv:
        raise ValueError("empty command: give a shell string or a non-empty argv list")
    return argv


def with_timeout(argv: list[str], timeout: float | None) -> list[str]:
    """Wrap ``argv`` in coreutils ``timeout -s KILL`` so the limit holds inside the sandbox.

    Not run in the foreground, ``timeout`` puts itself in a new process group and kills the
    whole group on expiry, so grandchildren die with the command.
    """
    if timeout is None:
        return argv
    return ["timeout", "-s", "KILL", f"{max(timeout, 0.001):.3f}", *argv]


# prlimit sets soft and hard limits in bytes; without it, the shell's ulimit (512-byte blocks
# in POSIX sh). Root in a container lacks CAP_SYS_RESOURCE, so nothing inside can raise it.
_FILE_LIMIT = (
    'if command -v prlimit >/dev/null 2>&1; then exec prlimit --fsize="$0" -- "$@"; fi; '
    'ulimit -f $(($0 / 512)) && exec "$@"'
)


def with_file_limit(argv: list[str], max_mb: int) -> list[str]:
    """Run ``argv`` under RLIMIT_FSIZE of ``max_mb`` MiB (inherited by all it starts): a write
    past it fails with ``EFBIG`` / ``SIGXFSZ``."""
    return ["sh", "-c", _FILE_LIMIT, str(max_mb * 1024 * 1024), *argv]


def describe(cmd: str | Sequence[str]) -> str:
    """A one-line rendering of a command for logs and records."""
    return cmd if isinstance(cmd, str) else shlex.join(cmd)


def merged_env(*parts: Mapping[str, str] | None) -> dict[str, str]:
    """Later mappings win; ``None`` parts are skipped."""
    env: dict[str, str] = {}
    for part in parts:
        if part:
            env.update(part)
    return env


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
