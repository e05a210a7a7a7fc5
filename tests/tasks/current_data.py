"""Current-format agentlab-mini instances whose images exist locally under the names they give
(built from the bundles, then tagged), for the engine-backed tests of the current format."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.tasks.instances import convert, write_jsonl
from agentlab.tasks.swebench import Dataset, load_dataset


def current_dataset(ids: tuple[str, ...], namespace: str, folder: Path) -> Dataset:
    """``ids`` of agentlab-mini in the current format, images tagged under ``namespace``."""
    return load_dataset(write_current_instances(ids, namespace, folder), offline=True)


def write_current_instances(ids: tuple[str, ...], namespace: str, folder: Path) -> Path:
    """Write ``folder/instances.jsonl`` for ``ids`` and tag their locally built images."""
    import docker

    from agentlab.sandbox.docker import image_exists

    if not image_exists("agentlab/base:bookworm"):
        pytest.skip("base image missing: run `agentlab sandbox build-base`")
    old = resolve_dataset("agentlab-mini")
    old = Dataset(old.name, [i for i in old.instances if i.instance_id in ids], old.specs,
                  old.bundles, [])  # fmt: skip
    records = convert(old, namespace=namespace)
    images = InstanceImages(ProviderImages(), EvalConfig())
    client = docker.from_env()
    try:
        for inst, record in zip(old.instances, records, strict=True):
            built = asyncio.run(images.image_for(old, inst))
            repo, tag = record["image"].rsplit(":", 1)
            client.images.get(built).tag(repo, tag)
    finally:
        client.close()
    path = folder / "instances.jsonl"
    write_jsonl(records, path)
    return path


def patched(bundle: Path, base: str, patch: str, edits: dict[str, str], tmp: Path) -> str:
    """``patch`` plus ``edits`` (path -> text appended), as one diff made by git."""
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(bundle), str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", base], check=True)
    subprocess.run(["git", "-C", str(repo), "apply", "-"], input=patch, text=True, check=True)
    for name, text in edits.items():
        with (repo / name).open("a") as fh:
            fh.write(text)
    done = subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, text=True)
    return done.stdout
