"""Datasets shipped inside the package, so a run needs no network.

Each is a folder in the offline SWE-bench layout: ``instances.jsonl``, ``specs.json`` and
``repos/<owner>__<name>.bundle``. Sources and the build script live in the repository's
top-level ``datasets/`` folder.
"""

from __future__ import annotations

from pathlib import Path

from agentlab.errors import DatasetError

_ROOT = Path(__file__).resolve().parent


def bundled_names() -> list[str]:
    """Names of the bundled datasets (``agentlab-mini``)."""
    return sorted(p.name.replace("_", "-") for p in _ROOT.iterdir() if (p / "specs.json").is_file())


def dataset_path(name: str) -> Path:
    """The folder of the bundled dataset ``name`` (``agentlab-mini`` or ``agentlab_mini``)."""
    folder = _ROOT / name.replace("-", "_")
    if not (folder / "instances.jsonl").is_file():
        known = ", ".join(bundled_names()) or "none"
        raise DatasetError(f"no bundled dataset {name!r}; bundled datasets: {known}")
    return folder
