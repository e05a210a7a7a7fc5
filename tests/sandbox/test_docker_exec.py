"""Exec basics, files and error mapping against the real Docker engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import SandboxError, SandboxUnavailableError
from agentlab.protocols import Sandbox
from agentlab.sandbox.docker import DockerBackend, DockerSandbox
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker


async def test_exit_codes_and_streams(sandbox: DockerSandbox) -> None:
    assert isinstance(sandbox, Sandbox)
    ok = await sandbox.exec("echo out; echo err >&2")
    assert (ok.exit_code, ok.stdout, ok.stderr, ok.ok) == (0, "out\n", "err\n", True)
    bad = await sandbox.exec("exit 7")
    assert bad.exit_code == 7 and not bad.ok and not bad.timed_out and not bad.oom_killed


async def test_argv_env_cwd_stdin(sandbox: DockerSandbox) -> None:
    r = await sandbox.exec(["printf", "%s|", "a b", "c"])
    assert r.stdout == "a b|c|"
    r = await sandbox.exec("echo $GREETING; pwd", env={"GREETING": "héllo"}, cwd="/tmp")
    assert r.stdout == "héllo\n/tmp\n"
    r = await sandbox.exec(["wc", "-c"], stdin=b"x" * 300_000)
    assert r.stdout.strip() == "300000"
    r = await sandbox.exec("cat", stdin="line one\n")
    assert r.stdout == "line one\n"


async def test_spec_env_and_invalid_utf8(docker_backend: DockerBackend, spec: SandboxSpec) -> None:
    async with docker_backend.open(spec.model_copy(update={"env": {"FROM_SPEC": "1"}})) as sb:
        r = await sb.exec("echo $FROM_SPEC; printf '\\377ok'")
    assert r.stdout == "1\n\ufffdok"


async def test_files_roundtrip(sandbox: DockerSandbox) -> None:
    await sandbox.write_file("/data/deep/dir/a.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    assert await sandbox.read_file("/data/deep/dir/a.sh") == b"#!/bin/sh\necho ran\n"
    assert (await sandbox.exec("/data/deep/dir/a.sh")).stdout == "ran\n"
    await sandbox.write_file("/data/bin.dat", bytes(range(256)))
    assert await sandbox.read_file("/data/bin.dat") == bytes(range(256))


async def test_copy_tree_in_and_out(sandbox: DockerSandbox, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("X = 1\n")
    (src / "pkg" / "sub" / "data.txt").write_text("data\n")
    (src / "top.txt").write_text("top\n")
    await sandbox.copy_in(src, "/repo")
    r = await sandbox.exec(
        "cd /repo && find . -type f | sort && python3 -c 'import pkg; print(pkg.X)'"
    )
    assert r.stdout.split() == ["./pkg/__init__.py", "./pkg/sub/data.txt", "./top.txt", "1"]
    await sandbox.exec("echo made-inside > /repo/pkg/sub/new.txt")
    await sandbox.copy_out("/repo", tmp_path / "back")
    assert (tmp_path / "back" / "pkg" / "sub" / "new.txt").read_text() == "made-inside\n"
    assert (tmp_path / "back" / "top.txt").read_text() == "top\n"
    await sandbox.copy_in(src / "top.txt", "/single/renamed.txt")
    assert await sandbox.read_file("/single/renamed.txt") == b"top\n"


async def test_missing_image_is_a_clear_error(docker_backend: DockerBackend, run_id: str) -> None:
    spec = SandboxSpec(image="agentlab/does-not-exist:nope", run_id=run_id)
    with pytest.raises(SandboxUnavailableError, match="does-not-exist"):
        async with docker_backend.open(spec):
            pass


async def test_no_engine_is_a_clear_error(tmp_path: Path) -> None:
    backend = DockerBackend(f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(SandboxUnavailableError, match="no Docker engine answers"):
        async with backend.open(SandboxSpec(image="x")):
            pass


async def test_container_carries_labels_and_limits(
    sandbox: DockerSandbox, spec: SandboxSpec
) -> None:
    r = await sandbox.exec(
        "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null; df -m /tmp | tail -1"
    )
    lines = r.stdout.split("\n")
    assert lines[0] == str(spec.pids_limit)
    assert lines[1] == str(spec.memory_mb * 1024 * 1024)
    assert lines[3].split()[1] == str(spec.tmp_mb)


@pytest.mark.docker
async def test_files_can_be_written_into_the_tmpfs(sandbox: Sandbox) -> None:
    """/tmp is a tmpfs mount, which the engine's archive API cannot write into."""
    await sandbox.write_file("/tmp/deep/dir/probe.txt", b"in tmpfs\n", mode=0o600)
    assert await sandbox.read_file("/tmp/deep/dir/probe.txt") == b"in tmpfs\n"
    mode = await sandbox.exec("stat -c %a /tmp/deep/dir/probe.txt")
    assert mode.stdout.strip() == "600"


@pytest.mark.docker
async def test_write_into_an_unwritable_place_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="writing into /proc/sys"):
        await sandbox.write_file("/proc/sys/agentlab-nope", b"x")
