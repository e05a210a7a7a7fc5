"""Apt-source parsing (both formats) and content-addressed derived images."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import ConfigError
from agentlab.sandbox import docker as engine
from agentlab.sandbox.docker import DockerBackend
from agentlab.sandbox.images import ImageSpec, build_base, ensure_image, find_mirror, list_images
from agentlab.types import SandboxSpec


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n"
    )
    assert find_mirror("bookworm", (tmp_path / "sources.list",)) == "http://mirror.example/debian"


def test_mirror_from_deb822_skips_other_suites_and_disabled_files(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "a.list.disabled").write_text("deb http://disabled.example/debian bookworm main\n")
    (d / "b.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\n# note\nURIs: http://deb822.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    roots = (tmp_path / "missing.list", d)
    assert find_mirror("bookworm", roots) == "http://deb822.example/debian"
    with pytest.raises(ConfigError, match="trixie"):
        find_mirror("trixie", roots)


def test_spec_tag_is_a_content_hash() -> None:
    a = ImageSpec(setup=("echo 1",), files={"/a": "x"})
    assert a.tag() == ImageSpec(setup=("echo 1",), files={"/a": "x"}, labels={"k": "v"}).tag()
    assert a.tag() != ImageSpec(setup=("echo 2",), files={"/a": "x"}).tag()
    assert a.tag().startswith("agentlab/env:") and len(a.tag().split(":")[1]) == 12


@pytest.mark.docker
def test_build_base_skips_when_present(base_image: str) -> None:
    assert build_base() == base_image  # returns at once: never rebuilt without --force


@pytest.mark.docker
async def test_ensure_image_builds_once_and_runs(
    base_image: str, docker_backend: DockerBackend, run_id: str
) -> None:
    spec = ImageSpec(
        parent=base_image,
        name="test",
        files={"/opt/app/hello.py": "print('hello from image')\n"},
        setup=(f"echo {run_id} > /opt/app/run_id",),
        workdir="/opt/app",
    )
    tag = await ensure_image(spec)
    try:
        first = [r for r in list_images() if r["tag"] == tag]
        assert len(first) == 1
        assert await ensure_image(spec) == tag  # reused, not rebuilt
        assert [r["id"] for r in list_images() if r["tag"] == tag] == [first[0]["id"]]
        async with docker_backend.open(SandboxSpec(image=tag, run_id=run_id)) as sb:
            r = await sb.exec("python3 hello.py; cat run_id", cwd="/opt/app")
        assert r.stdout == f"hello from image\n{run_id}\n"
    finally:
        engine.remove_image(tag)
    assert all(r["tag"] != tag for r in list_images())
