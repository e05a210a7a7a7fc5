"""The ``trajectory:`` section: the documented spelling that selects the agent or external kind
and carries its settings; ``dataset.kind`` keeps working; a conflict is one line naming both."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.config import ExperimentConfig, load_experiment, parse_experiment
from agentlab.coordinator.kinds import kind_for
from agentlab.errors import ConfigError

BASE = "run_name: x\ndataset:\n  name: agentlab-mini\n{kind}models:\n  default: {{endpoint: e}}\n"
EXAMPLES = Path(__file__).parents[1] / "configs" / "experiments"


def _parse(extra: str, kind: str = "") -> ExperimentConfig:
    return parse_experiment(BASE.format(kind=kind) + extra, source="e.yaml")


def test_agent_trajectory_selects_the_agent_kind_and_carries_its_limits() -> None:
    config = _parse("trajectory:\n  type: agent\n  mode: text\n  max_steps: 7\n")
    assert kind_for(config.dataset).name == "swe-agent"
    assert (config.agent.mode, config.agent.max_steps) == ("text", 7)


def test_external_trajectory_carries_the_command() -> None:
    config = _parse("trajectory: {type: external, command: 'python3 a.py', timeout_s: 30}\n")
    assert kind_for(config.dataset).name == "external"
    assert (config.external.command, config.external.timeout_s) == ("python3 a.py", 30)


def test_dataset_kind_still_works_and_agrees_with_trajectory() -> None:
    assert _parse("", kind="  kind: swe-agent\n").dataset.kind == "swe-agent"
    both = _parse("trajectory: {type: agent}\n", kind="  kind: swe-agent\n")
    assert both.dataset.kind == "swe-agent"


def test_a_stored_config_validates_again_to_itself() -> None:
    config = _parse("trajectory: {type: external, command: run-me, max_usd: 0.2}\n")
    again = ExperimentConfig.model_validate(config.model_dump(mode="json"))
    assert again == config


@pytest.mark.parametrize(
    ("extra", "kind", "names"),
    [
        ("trajectory: {type: agent}\n", "  kind: swe\n", ("trajectory.type", "dataset.kind")),
        ("trajectory: {type: external, command: x}\n", "  kind: swe-agent\n", ("dataset.kind",)),
        ("trajectory: {type: agent}\nagent: {max_steps: 3}\n", "", ("trajectory", "agent:")),
        (
            "trajectory: {type: external, command: x}\nexternal: {command: y}\n",
            "",
            ("trajectory", "external:"),
        ),
    ],
)
def test_a_conflicting_pair_is_one_line_naming_both(
    extra: str, kind: str, names: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(extra, kind)
    text = str(info.value)
    assert "\n" not in text and text.startswith("e.yaml:")
    assert all(name in text for name in names), text


def test_unknown_type_and_unknown_key_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"trajectory: .*'agent', 'external'"):
        _parse("trajectory: {type: robot}\n")
    with pytest.raises(ConfigError, match="comand: unknown key"):
        _parse("trajectory: {type: external, comand: x}\n")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("mini-agent-scripted.yaml", "swe-agent"),
        ("mini-agent-local.yaml", "swe-agent"),
        ("mini-external-scripted.yaml", "external"),
    ],
)
def test_the_example_configs_use_the_issue_spelling(name: str, kind: str) -> None:
    config = load_experiment(EXAMPLES / name)
    assert config.trajectory is not None and "kind:" not in (EXAMPLES / name).read_text()
    assert kind_for(config.dataset).name == kind
