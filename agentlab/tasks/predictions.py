"""Predictions in the three SWE-bench shapes (``.jsonl``, ``.json`` list, ``.json`` dict by
id) plus ``gold``; and samples (``task_id`` with a ``completion`` for HumanEval, a ``program`` for
stdin/stdout problems).

Several predictions for the same instance are kept side by side as samples 0, 1, 2, ...
(pass@k); an empty or missing patch is kept too, so it is counted, but never run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentlab.errors import DatasetError
from agentlab.tasks.swebench import SWEInstance, read_records

GOLD = "gold"


class Prediction(BaseModel):
    """One candidate for one instance: a diff for SWE tasks, a completion for HumanEval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_id: str
    model_name: str
    patch: str | None = None
    sample: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.patch or "").strip()

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.instance_id, self.model_name, self.sample)


def gold_predictions(instances: Iterable[SWEInstance]) -> list[Prediction]:
    """Each instance's own reference patch, under the model name ``gold``."""
    return [
        Prediction(instance_id=i.instance_id, model_name=GOLD, patch=i.patch) for i in instances
    ]


def load_predictions(path: Path) -> list[Prediction]:
    """Read SWE-bench predictions; samples of the same instance and model are numbered."""
    out: list[Prediction] = []
    counts: dict[tuple[str, str], int] = {}
    for index, rec in enumerate(read_records(path)):
        if not isinstance(rec, dict) or not isinstance(rec.get("instance_id"), str):
            raise DatasetError(f"{path}: prediction #{index} has no instance_id")
        patch = rec.get("model_patch")
        if patch is not None and not isinstance(patch, str):
            raise DatasetError(f"{path}: {rec['instance_id']}: model_patch must be a string")
        model = str(rec.get("model_name_or_path") or "unknown")
        key = (rec["instance_id"], model)
        sample = counts.get(key, 0)
        counts[key] = sample + 1
        out.append(Prediction(instance_id=key[0], model_name=model, patch=patch, sample=sample))
    return out


def load_samples(
    path: Path, model_name: str = "samples", text_field: str = "completion"
) -> list[Prediction]:
    """HumanEval samples (``task_id``, ``completion``); repeated task ids become samples.

    ``text_field`` names the solution's key for other kinds (``program`` for stdin/stdout).
    """
    out: list[Prediction] = []
    counts: dict[str, int] = {}
    for index, rec in enumerate(read_records(path)):
        task = _field(rec, "task_id", path, index)
        completion = rec.get(text_field)
        if not isinstance(completion, str):
            raise DatasetError(f"{path}: {task}: {text_field} must be a string")
        sample = counts.get(task, 0)
        counts[task] = sample + 1
        out.append(
            Prediction(instance_id=task, model_name=model_name, patch=completion, sample=sample)
        )
    return out


def _field(rec: Any, name: str, path: Path, index: int) -> str:
    if not isinstance(rec, dict) or not isinstance(rec.get(name), str):
        raise DatasetError(f"{path}: record #{index} has no string {name!r}")
    value: str = rec[name]
    return value
