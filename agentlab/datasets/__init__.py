"""Datasets shipped inside the package, so a run needs no network.

``agentlab-mini`` is a folder in the offline SWE-bench layout: ``instances.jsonl``,
``specs.json`` and ``repos/<owner>__<name>.bundle``. ``agentlab-stdio`` holds stdin/stdout
problems in one CodeContests-style ``problems.jsonl``. Sources and the build scripts live in
the repository's top-level ``datasets/`` folder.
"""

from __future__ import annotations

from pathlib import Path

from agentlab.errors import DatasetError

_ROOT = Path(__file__).resolve().parent


_DATA_FILES = ("instances.jsonl", "problems.jsonl")


def _is_dataset(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _DATA_FILES)


def bundled_names() -> list[str]:
    """Names of the bundled datasets (``agentlab-mini``, ``agentlab-stdio``)."""
    return sorted(p.name.replace("_", "-") for p in _ROOT.iterdir() if _is_dataset(p))


def dataset_path(name: str) -> Path:
    """The folder of the bundled dataset ``name`` (``agentlab-mini`` or ``agentlab_mini``)."""
    folder = _ROOT / name.replace("-", "_")
    if not _is_dataset(folder):
        known = ", ".join(bundled_names()) or "none"
        raise DatasetError(f"no bundled dataset {name!r}; bundled datasets: {known}")
    return folder
