"""The process backend: basic exec, timeout kill of the whole group, output cap, files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentlab.errors import ConfigError
from agentlab.sandbox import ProcessConfig, make_backend, parse_config
from agentlab.sandbox.process import ProcessSandbox, network_namespace_available
from agentlab.types import SandboxSpec

SPEC = SandboxSpec(image="unused", run_id="proc-test", output_cap_bytes=10_000, workdir="/work")


async def test_exec_basics_and_paths() -> None:
    backend = make_backend(ProcessConfig())
    async with backend.open(SPEC) as sb:
        assert isinstance(sb, ProcessSandbox)
        root = sb.root
        r = await sb.exec("echo $X; pwd; echo e >&2; exit 3", env={"X": "1"})
        assert (r.exit_code, r.stdout, r.stderr) == (3, f"1\n{root}/work\n", "e\n")
        assert (await sb.exec(["cat"], stdin="in")).stdout == "in"
        await sb.write_file("/data/../../etc/x.txt", "mapped")  # cannot climb out of the root
        assert (root / "etc" / "x.txt").read_text() == "mapped"
        assert await sb.read_file("/etc/x.txt") == b"mapped"
    assert not root.exists()


async def test_timeout_kills_the_group() -> None:
    async with make_backend(ProcessConfig()).open(SPEC) as sb:
        marker = f"procmark{os.getpid()}"
        r = await sb.exec(f"sh -c 'sleep 300' {marker} & sleep 300; echo never", timeout=1)
        assert r.timed_out and r.exit_code == 124 and "never" not in r.stdout
        left = await sb.exec(f"pgrep -f '{marker[:-1]}[{marker[-1]}]' | wc -l")
        assert left.stdout.strip() == "0"


async def test_output_cap() -> None:
    async with make_backend(ProcessConfig()).open(SPEC) as sb:
        r = await sb.exec("head -c 5000000 /dev/zero | tr '\\0' y")
    assert r.truncated and r.stdout.endswith("[agentlab: output truncated after 10000 bytes]\n")
    assert r.stdout.startswith("y" * 10_000)


async def test_copy_tree(tmp_path: Path) -> None:
    (tmp_path / "t" / "a").mkdir(parents=True)
    (tmp_path / "t" / "a" / "f.txt").write_text("f")
    async with make_backend(ProcessConfig()).open(SPEC) as sb:
        await sb.copy_in(tmp_path / "t", "/repo")
        assert (await sb.exec("cat a/f.txt", cwd="/repo")).stdout == "f"
        await sb.copy_out("/repo", tmp_path / "back")
    assert (tmp_path / "back" / "a" / "f.txt").read_text() == "f"


@pytest.mark.skipif(not network_namespace_available(), reason="no user/network namespaces here")
async def test_network_namespace_has_only_lo() -> None:
    async with make_backend(ProcessConfig()).open(SPEC) as sb:
        r = await sb.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert r.stdout.split() == ["lo"]


def test_config_is_strict() -> None:
    assert isinstance(parse_config({"type": "process"}), ProcessConfig)
    with pytest.raises(ConfigError, match="bogus"):
        parse_config({"type": "docker", "bogus": 1})
    with pytest.raises(ConfigError, match="type"):
        parse_config({"type": "vm"})
