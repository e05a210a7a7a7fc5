"""Hugging Face dataset names and ``.parquet`` files, through the ``datasets`` library.

The only module importing ``datasets`` (an optional dependency of the ``swebench`` extra). It
imports nothing of agentlab's tasks, so both the instance loader and the converter can use it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from agentlab.errors import DatasetError

# The dataset names the harness maps to hub repositories; any other "owner/name" is used as is.
HUB_ALIASES = {
    "swe-bench": "SWE-bench/SWE-bench",
    "swebench": "SWE-bench/SWE-bench",
    "swe_bench": "SWE-bench/SWE-bench",
    "swe-bench-lite": "SWE-bench/SWE-bench_Lite",
    "swebench-lite": "SWE-bench/SWE-bench_Lite",
    "swe_bench_lite": "SWE-bench/SWE-bench_Lite",
    "swe-bench_lite": "SWE-bench/SWE-bench_Lite",
    "lite": "SWE-bench/SWE-bench_Lite",
}


def hub_name(name: str) -> str | None:
    """The hub repository ``name`` stands for, or None if it is not a hub dataset name."""
    if name.lower() in HUB_ALIASES:
        return HUB_ALIASES[name.lower()]
    parts = name.split("/")
    if len(parts) == 2 and all(parts) and not name.endswith((".json", ".jsonl", ".parquet")):
        return name
    return None


def _datasets_lib() -> Any:
    try:
        return importlib.import_module("datasets")
    except ImportError as exc:
        raise DatasetError(
            "reading Hugging Face datasets and .parquet files needs the datasets library; "
            "run: pip install 'agentlab[swebench]'"
        ) from exc


def load_hub_records(name: str, split: str) -> list[dict[str, Any]]:
    """Records of a hub dataset's ``split``; a one-line error naming what to download."""
    repo = hub_name(name) or name
    lib = _datasets_lib()
    try:
        data = lib.load_dataset(repo, split=split)
    except Exception as exc:  # the hub client raises many types: offline, 404, auth, network
        raise DatasetError(
            f"cannot load {repo} (split {split}) from the Hugging Face hub "
            f"({exc.__class__.__name__}); download its {split} split from "
            f"https://huggingface.co/datasets/{repo}/tree/main/data (a .parquet file) and pass "
            "--dataset <that file>"
        ) from exc
    return [dict(row) for row in data]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Records of a ``.parquet`` file (as the hub serves datasets)."""
    lib = _datasets_lib()
    try:
        data = lib.load_dataset("parquet", data_files=str(path), split="train")
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read parquet: {exc}") from exc
    return [dict(row) for row in data]
