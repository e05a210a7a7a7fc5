"""`executor` in the experiment YAML: a discriminated config, and the registry that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentlab.config import LocalExecutorConfig, RayExecutorConfig, load_experiment
from agentlab.coordinator.executors import make_executor
from agentlab.coordinator.launch import RunRequest, with_executor
from agentlab.errors import ConfigError


def _config(tmp_path: Path, executor: object = None) -> Path:
    data: dict[str, object] = {
        "run_name": "x",
        "dataset": {"name": "agentlab-mini"},
        "endpoints": "e.yaml",
        "models": {"default": {"endpoint": "e"}},
    }
    if executor is not None:
        data["executor"] = executor
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_local_is_the_default_and_a_name_is_short_for_its_type(tmp_path: Path) -> None:
    assert load_experiment(_config(tmp_path)).executor == LocalExecutorConfig()
    assert load_experiment(_config(tmp_path, "ray")).executor == RayExecutorConfig()
    given = load_experiment(_config(tmp_path, {"type": "ray", "address": "10.0.0.1:6379"}))
    assert given.executor == RayExecutorConfig(address="10.0.0.1:6379")
    assert make_executor(LocalExecutorConfig()).name == "local"


@pytest.mark.parametrize(
    ("executor", "says"),
    [
        ({"type": "spark"}, "executor: Input tag 'spark'"),
        ({"type": "ray", "adress": "x"}, "executor.ray.adress"),
        ({"type": "local", "address": "x"}, "executor.local.address"),
    ],
)
def test_bad_executor_configs_are_one_line_errors(
    tmp_path: Path, executor: object, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        load_experiment(_config(tmp_path, executor))
    assert "\n" not in str(info.value)


def test_a_resumed_run_can_change_executor(tmp_path: Path) -> None:
    path = _config(tmp_path, {"type": "ray", "address": "h:1"})
    request = RunRequest(load_experiment(path), tmp_path, "r")
    assert with_executor(request, "ray").config.executor == RayExecutorConfig(address="h:1")
    assert with_executor(request, "local").config.executor == LocalExecutorConfig()
    with pytest.raises(ConfigError, match="--executor spark"):
        with_executor(request, "spark")
