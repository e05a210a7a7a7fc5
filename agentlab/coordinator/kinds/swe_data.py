"""SWE-style datasets (bundled name or path) and their instance images, via the provider."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from agentlab.config import DatasetConfig
from agentlab.datasets import bundled_names, dataset_path
from agentlab.errors import ConfigError, SandboxUnavailableError
from agentlab.protocols import SandboxProvider
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.tasks.instances import hub_name, load_hub_records
from agentlab.tasks.swebench import Dataset, dataset_from_records, load_dataset


def is_bundled(name: str) -> bool:
    """A dataset shipped in the package (``agentlab-mini`` or ``agentlab_mini``)."""
    names = bundled_names()
    return name in names or name.replace("_", "-") in names


def is_swe_dataset(name: str) -> bool:
    """Bundled, a path that exists, or a Hugging Face dataset name the harness accepts."""
    return is_bundled(name) or Path(name).exists() or hub_name(name) is not None


def resolve_dataset(
    name: str, *, offline: bool = False, option: str = "--dataset", split: str = "test"
) -> Dataset:
    """A bundled dataset by name, a dataset folder or instances file by path, or a Hugging
    Face dataset name the harness accepts (``SWE-bench/SWE-bench_Verified``, ``lite``)."""
    if is_bundled(name):
        return load_dataset(dataset_path(name), name=name, offline=offline)
    path = Path(name)
    if not path.exists() and hub_name(name):
        return dataset_from_records(load_hub_records(name, split), name=name, offline=offline)
    if not path.exists():
        known = ", ".join(bundled_names())
        raise ConfigError(
            f"{option} {name!r}: no such dataset; use a bundled one ({known}), another task"
            " kind's dataset, a Hugging Face dataset name, or a path to a dataset folder or"
            " .jsonl/.json instances file"
        )
    return load_dataset(path, offline=offline)


def load_swe(config: DatasetConfig) -> Dataset:
    """The dataset the config names (bundled name or path), with only the chosen instances."""
    dataset = resolve_dataset(config.name, option="dataset.name")
    keep = set(config.select(i.instance_id for i in dataset.instances))
    if config.instances:
        unknown = sorted(set(config.instances) - {i.instance_id for i in dataset.instances})
        if unknown:
            raise ConfigError(f"dataset.instances: not in {dataset.name}: {', '.join(unknown)}")
    dataset.instances = [i for i in dataset.instances if i.instance_id in keep]
    if not dataset.instances:
        raise ConfigError(f"dataset: the filter keeps no instance of {dataset.name}")
    return dataset


class ProviderImages:
    """The harness's image builder over a sandbox provider; remembers what it built.

    The one adapter between :class:`~agentlab.tasks.harness.InstanceImages` and
    :meth:`~agentlab.protocols.SandboxProvider.prepare_image` (runs, evaluation, selection).
    """

    def __init__(self, provider: SandboxProvider | None = None) -> None:
        if provider is None:
            from agentlab.sandbox import make_provider

            provider = make_provider()
        self.provider = provider
        self.built: list[tuple[str, str]] = []  # (name, tag)

    async def __call__(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str:
        tag = await self.provider.prepare_image(
            parent=parent, commands=commands, files=files, network=network, name=name
        )
        self.built.append((name, tag))
        return tag

    async def present(self, image: str) -> str:
        """A current-format instance's own image: here already, or pulled if a registry has it."""
        if await self.provider.pull_image(image):
            return image
        raise SandboxUnavailableError(
            f"image {image} is not present and could not be pulled; build or load it under "
            "that name, or point --namespace at a registry that has it"
        )

    async def clean(self, names: Collection[str]) -> None:
        """Remove the built images whose name (``env``, ``instance``) is in ``names``."""
        for name, tag in self.built:
            if name in names:
                await self.provider.remove_image(tag)


def instance_images(provider: SandboxProvider, run_id: str) -> InstanceImages:
    """Per-instance images (repository at /testbed), built once and cached by the engine."""
    builder = ProviderImages(provider)
    return InstanceImages(builder, EvalConfig(run_id=run_id), builder.present)
