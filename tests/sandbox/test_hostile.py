"""Hostile code is contained and reported; the test process is unharmed."""

from __future__ import annotations

import socket
import subprocess
import tracemalloc

import pytest

from agentlab.sandbox.docker import DockerBackend, DockerSandbox
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker


async def test_fork_bomb_hits_pids_limit(sandbox: DockerSandbox) -> None:
    r = await sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 4", timeout=6)
    assert "fork" in r.stderr.lower(), r  # "Cannot fork": the pids limit stopped it
    # The sandbox is usable afterwards and nothing of the bomb is left.
    after = await sandbox.exec("pgrep -fc 'bom[b]'")  # the [b] keeps pgrep's own shell out
    assert after.stdout.strip() == "0", after
    peak = await sandbox.exec("cat /sys/fs/cgroup/pids/pids.max")
    assert peak.stdout.strip() == "64"


async def test_memory_bomb_is_oom_killed(sandbox: DockerSandbox) -> None:
    r = await sandbox.exec("python3 -c 'x = bytearray(600 * 1024 * 1024); print(len(x))'")
    assert r.oom_killed and r.exit_code == 137 and not r.timed_out and r.stdout == ""
    # A later plain non-zero exit is not mistaken for another OOM kill.
    again = await sandbox.exec("kill -9 $$")
    assert again.exit_code == 137 and not again.oom_killed


async def test_infinite_loop_times_out_and_tree_dies(sandbox: DockerSandbox) -> None:
    r = await sandbox.exec(
        "sh -c 'while :; do :; done' loopmark & python3 -c 'while True: pass' loopmark & wait",
        timeout=2,
    )
    assert r.timed_out and r.exit_code == 124 and not r.ok
    left = await sandbox.exec("pgrep -fc 'loopmar[k]'")  # the [k] keeps pgrep's shell out
    assert left.stdout.strip() == "0", left


async def test_escaped_child_is_killed_from_the_host(sandbox: DockerSandbox) -> None:
    # setsid leaves timeout's process group and keeps stdout open, so the exec would hang:
    # the host-side deadline (timeout + grace) must fire and kill it by its marker.
    r = await sandbox.exec("setsid sleep 300 & wait", timeout=1)
    assert r.timed_out
    left = await sandbox.exec("pgrep -fc 'sleep 30[0]'")
    assert left.stdout.strip() == "0", left
    assert (await sandbox.exec("echo alive")).stdout == "alive\n"


async def test_huge_stdout_is_capped_with_bounded_memory(sandbox: DockerSandbox) -> None:
    cap = sandbox.spec.output_cap_bytes
    tracemalloc.start()
    try:
        r = await sandbox.exec("head -c 100000000 /dev/zero | tr '\\0' x", timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.exit_code == 0 and r.truncated
    assert r.stdout.startswith("x" * 1000)
    assert r.stdout.endswith(f"\n[agentlab: output truncated after {cap} bytes]\n")
    assert len(r.stdout) < cap + 100
    assert peak < 6 * cap, f"peak Python allocation {peak} bytes for a {cap}-byte cap"


async def test_filling_the_disk_is_limited(sandbox: DockerSandbox) -> None:
    r = await sandbox.exec("dd if=/dev/zero of=/tmp/fill bs=1M count=1000", timeout=60)
    assert r.exit_code != 0 and "No space left on device" in r.stderr
    size = await sandbox.exec("du -m /tmp/fill | cut -f1")
    assert int(size.stdout) <= sandbox.spec.tmp_mb
    assert (await sandbox.exec("rm /tmp/fill && echo ok")).stdout == "ok\n"


async def test_two_gigabytes_into_testbed_is_stopped_by_the_file_size_limit(
    docker_backend: DockerBackend, base_image: str, run_id: str
) -> None:
    # overlay2 on ext4 has no storage quota: the root layer is capped per file, for every exec
    # and everything it starts (root included, setsid'd children included).
    spec = SandboxSpec(image=base_image, run_id=run_id, file_size_mb=64, ttl_s=600)
    async with docker_backend.open(spec) as sb:
        await sb.exec("mkdir -p /testbed")
        r = await sb.exec("dd if=/dev/zero of=/testbed/fill bs=1M count=2048", timeout=120)
        assert r.exit_code != 0
        size = await sb.exec("stat -c %s /testbed/fill")
        assert int(size.stdout) <= 64 * 1024 * 1024
        escaped = await sb.exec(
            "setsid sh -c 'dd if=/dev/zero of=/testbed/bg bs=1M count=2048; echo done $?' "
            "</dev/null > /testbed/bg.log 2>&1 & wait; sleep 1; cat /testbed/bg.log; "
            "stat -c %s /testbed/bg",
            timeout=120,
        )
        assert int(escaped.stdout.split()[-1]) <= 64 * 1024 * 1024, escaped.stdout
        limit = await sb.exec("ulimit -f")
        assert limit.stdout.strip() != "unlimited"


def _bridge_gateway() -> str:
    """This host's address on the docker bridge (reachable from bridged containers)."""
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[3].split("/")[0]


_CONNECT = (
    'python3 -c "import socket,sys; s=socket.socket(); s.settimeout(3); '
    "s.connect((sys.argv[1], int(sys.argv[2]))); print('connected')\""
)


async def test_no_network_unless_asked(
    docker_backend: DockerBackend, sandbox: DockerSandbox, spec: SandboxSpec
) -> None:
    ifaces = await sandbox.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert ifaces.stdout.split() == ["lo"]
    gateway = _bridge_gateway()
    with socket.socket() as listener:
        listener.bind((gateway, 0))
        listener.listen()
        port = listener.getsockname()[1]
        blocked = await sandbox.exec(f"{_CONNECT} {gateway} {port}", timeout=20)
        assert blocked.exit_code != 0 and "connected" not in blocked.stdout
        # Control: with network asked for, the same connection succeeds, so the check is real.
        async with docker_backend.open(spec.model_copy(update={"network": True})) as netted:
            allowed = await netted.exec(f"{_CONNECT} {gateway} {port}", timeout=20)
        assert allowed.stdout == "connected\n", allowed
