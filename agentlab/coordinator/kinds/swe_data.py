"""Loading a run's SWE-style dataset (filtered by the config) and its instance images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from agentlab.config import DatasetConfig
from agentlab.datasets import bundled_names, dataset_path
from agentlab.errors import ConfigError
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.tasks.swebench import Dataset, load_dataset


def load_swe(config: DatasetConfig) -> Dataset:
    """The dataset the config names (bundled name or path), with only the chosen instances."""
    if config.name in bundled_names() or config.name.replace("_", "-") in bundled_names():
        dataset = load_dataset(dataset_path(config.name), name=config.name)
    else:
        path = Path(config.name)
        if not path.exists():
            known = ", ".join([*bundled_names(), "humaneval"])
            raise ConfigError(
                f"dataset.name {config.name!r}: not a bundled dataset ({known}) and no such path"
            )
        dataset = load_dataset(path)
    keep = set(config.select(i.instance_id for i in dataset.instances))
    if config.instances:
        unknown = sorted(set(config.instances) - {i.instance_id for i in dataset.instances})
        if unknown:
            raise ConfigError(f"dataset.instances: not in {dataset.name}: {', '.join(unknown)}")
    dataset.instances = [i for i in dataset.instances if i.instance_id in keep]
    if not dataset.instances:
        raise ConfigError(f"dataset: the filter keeps no instance of {dataset.name}")
    return dataset


class _DockerImages:
    """The harness's image builder over the sandbox layer's content-hashed images."""

    async def __call__(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str:
        from agentlab.sandbox.images import ImageSpec, ensure_image

        spec = ImageSpec(
            parent=parent, name=name, setup=tuple(commands), files=dict(files), network=network
        )
        return await ensure_image(spec)


def instance_images(run_id: str) -> InstanceImages:
    """Per-instance images (repository at /testbed), built once and cached by the engine."""
    return InstanceImages(_DockerImages(), EvalConfig(run_id=run_id))
