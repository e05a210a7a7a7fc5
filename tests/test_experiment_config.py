"""Experiment configs: validation, line-numbered errors, overrides, hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.config import (
    ExperimentConfig,
    apply_overrides,
    check_endpoint_names,
    config_hash,
    endpoint_files,
    key_lines,
    load_experiment,
    parse_experiment,
)
from agentlab.errors import ConfigError
from agentlab.llm.config import load_endpoints

EXAMPLES = sorted((Path(__file__).parents[1] / "configs" / "experiments").glob("*.yaml"))

BASE = """\
run_name: t
dataset:
  name: agentlab-mini
models:
  default:
    endpoint: scripted
  testing:
    endpoint: strong
    temperature: 0.7
sampling:
  k: 4
  n: 3
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_validate_and_name_real_endpoints(path: Path) -> None:
    config = load_experiment(path)
    assert config.run_name
    files = endpoint_files(config, path)
    assert files, "every example names its endpoint file(s)"
    names = {e.name for f in files for e in load_endpoints(f)}
    check_endpoint_names(config, names)


def test_defaults_and_role_fallback() -> None:
    config = parse_experiment(BASE)
    assert config.sampling.k == 4 and config.sampling.n == 3
    assert config.models.for_role("testing").endpoint == "strong"
    assert config.models.for_role("relevance").endpoint == "scripted"
    assert config.concurrency.sandboxes == 2
    assert set(config.roles()) == {
        "relevance",
        "ranking",
        "testing",
        "editing",
        "selection",
        "verifier",
    }


def test_unknown_key_names_file_line_and_path() -> None:
    text = BASE.replace("    temperature: 0.7\n", "    temperature: 0.7\n    temprature: 1\n")
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, source="exp.yaml")
    msg = str(info.value)
    assert msg.startswith("exp.yaml:10: models.testing.temprature: unknown key")
    assert "\n" not in msg


def test_bad_value_names_its_line() -> None:
    text = BASE.replace("  k: 4", "  k: 0")
    with pytest.raises(ConfigError, match=r"^exp.yaml:11: sampling.k: Input should be greater"):
        parse_experiment(text, source="exp.yaml")


def test_missing_key_points_at_parent() -> None:
    text = BASE.replace("  name: agentlab-mini\n", "  split: dev\n")
    with pytest.raises(ConfigError, match=r"^exp.yaml:2: dataset.name: Field required"):
        parse_experiment(text, source="exp.yaml")


def test_no_model_for_editing_is_rejected() -> None:
    text = "run_name: t\ndataset: {name: x}\nmodels:\n  relevance: {endpoint: a}\n"
    with pytest.raises(ConfigError, match=r"^<string>:3: models: .*models.default"):
        parse_experiment(text)


def test_invalid_regex_is_rejected() -> None:
    text = BASE.replace("  name: agentlab-mini\n", "  name: x\n  include: '('\n")
    with pytest.raises(ConfigError, match=r"^<string>:4: dataset.include: .*regular expression"):
        parse_experiment(text)


def test_invalid_yaml_names_line() -> None:
    with pytest.raises(ConfigError, match=r"^bad.yaml:3: not valid YAML"):
        parse_experiment("run_name: t\ndataset:\n  name: a: b\n", source="bad.yaml")


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_experiment("- a\n- b\n")


def test_overrides_parse_yaml_scalars_and_create_keys() -> None:
    config = parse_experiment(
        BASE,
        overrides=[
            "sampling.k=8",
            "budget.cap_usd=12.5",
            "models.testing.temperature=0",
            "dataset.instances=[a, b]",
            "run_name=renamed",
        ],
    )
    assert config.sampling.k == 8
    assert config.budget.cap_usd == 12.5
    assert config.models.for_role("testing").temperature == 0.0
    assert config.dataset.instances == ("a", "b")
    assert config.run_name == "renamed"


def test_bad_override_is_named_as_override() -> None:
    with pytest.raises(ConfigError, match=r"^exp.yaml: override sampling.k: Input should be"):
        parse_experiment(BASE, source="exp.yaml", overrides=["sampling.k=lots"])
    with pytest.raises(ConfigError, match=r"override 'nonsense': expected key.path=value"):
        parse_experiment(BASE, overrides=["nonsense"])
    with pytest.raises(ConfigError, match="unknown key"):
        parse_experiment(BASE, overrides=["sampling.kk=2"])


def test_override_into_scalar_is_rejected() -> None:
    data = {"run_name": "x"}
    with pytest.raises(ConfigError, match="cannot go into"):
        apply_overrides(data, ["run_name.sub.key=1"])


def test_key_lines_cover_nested_mappings_and_lists() -> None:
    lines = key_lines("a:\n  b:\n    - x\n    - c: 1\n")
    assert lines[("a",)] == 1
    assert lines[("a", "b")] == 2
    assert lines[("a", "b", 1, "c")] == 4


def test_config_hash_is_stable_and_sensitive() -> None:
    a = parse_experiment(BASE)
    b = parse_experiment(BASE.replace("run_name: t", "run_name: 't'"))
    c = parse_experiment(BASE, overrides=["seed=1"])
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(c)
    assert len(config_hash(a)) == 64


def test_endpoint_names_are_checked() -> None:
    config = parse_experiment(BASE)
    check_endpoint_names(config, {"scripted", "strong"})
    with pytest.raises(ConfigError, match=r"models.testing.endpoint: unknown endpoint 'strong'"):
        check_endpoint_names(config, {"scripted"})


def test_endpoints_accept_one_path_or_a_list() -> None:
    one = parse_experiment(BASE, overrides=["endpoints=models.yaml"])
    many = parse_experiment(BASE, overrides=["endpoints=[a.yaml, b.yaml]"])
    assert one.endpoints == ("models.yaml",)
    assert endpoint_files(many, "configs/experiments/x.yaml") == [
        Path("configs/experiments/a.yaml"),
        Path("configs/experiments/b.yaml"),
    ]


def test_dataset_filter_selects_in_order() -> None:
    config = parse_experiment(
        BASE,
        overrides=["dataset.include=^mini", "dataset.exclude=3$", "dataset.limit=2"],
    )
    ids = ["mini-1", "other-2", "mini-3", "mini-4", "mini-5"]
    assert config.dataset.select(ids) == ["mini-1", "mini-4"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")


def test_config_is_frozen() -> None:
    config = parse_experiment(BASE)
    assert isinstance(config, ExperimentConfig)
    with pytest.raises(ValueError, match="frozen"):
        config.seed = 3  # type: ignore[misc]
