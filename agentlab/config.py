"""Experiment configs: one YAML file under ``configs/experiments/`` describes a whole run.

The file is read, ``key.path=value`` overrides from the command line are applied to the raw
mapping, and only then is the result validated, so an override is checked exactly like a value
written in the file. Every model forbids unknown keys. A validation error becomes one
:class:`~agentlab.errors.ConfigError` line naming the file, the YAML line and the key path
(``mini.yaml:14: models.testing.temperature: ...``); a bad override is named as such.

Models are referred to by endpoint *name* (the ``name`` of an entry in the endpoint YAML that
``agentlab.llm.config`` reads); :func:`check_endpoint_names` checks those references once the
composition root has loaded the endpoints, so this module does not depend on the LLM layer.

:func:`config_hash` is the sha256 of the canonical JSON of the validated config: stored with
the run, it says whether two runs were configured identically.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agentlab.agent.agent_records import AgentLimits
from agentlab.agent.external import ExternalConfig
from agentlab.errors import ConfigError
from agentlab.sandbox.config import DockerConfig, SandboxConfig
from agentlab.scoring.selectors import SelectorConfig, VoteConfig

ROLES = ("relevance", "ranking", "testing", "editing", "selection", "verifier")
RoleName = Literal["relevance", "ranking", "testing", "editing", "selection", "verifier"]

KeyPath = tuple[str | int, ...]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetConfig(_Config):
    """Which problems to run on."""

    name: str = Field(
        description="Dataset: `agentlab-mini`, `humaneval`, or a SWE-bench .jsonl/.json path."
    )
    kind: str | None = Field(
        None,
        description="Task kind (`swe`, `humaneval`, ...; see agentlab.coordinator.kinds);"
        " None = inferred from the name where exactly one kind claims it.",
    )
    split: str = Field("test", description="Split, for datasets that have several.")
    instances: tuple[str, ...] = Field((), description="Only these instance ids (empty = all).")
    include: str | None = Field(None, description="Regex an instance id must match.")
    exclude: str | None = Field(None, description="Regex an instance id must not match.")
    limit: int | None = Field(None, ge=1, description="At most this many instances, in order.")

    @field_validator("include", "exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    def select(self, ids: Iterable[str]) -> list[str]:
        """The instance ids this filter keeps, in their original order."""
        wanted = set(self.instances)
        kept = [
            i
            for i in ids
            if (not wanted or i in wanted)
            and (self.include is None or re.search(self.include, i))
            and (self.exclude is None or not re.search(self.exclude, i))
        ]
        return kept[: self.limit] if self.limit is not None else kept


class RoleModel(_Config):
    """The model that plays one role, and how it is sampled."""

    endpoint: str = Field(description="Name of an endpoint in the endpoint config.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling; None = off.")
    max_tokens: int = Field(4096, ge=1, description="Completion token limit per call.")


class ModelsConfig(_Config):
    """A model per role. A role left out uses ``default``; a role with neither is an error."""

    default: RoleModel | None = Field(None, description="Used by every role not given below.")
    relevance: RoleModel | None = Field(None, description="Scores each source file (cheap).")
    ranking: RoleModel | None = Field(None, description="Orders the relevant files.")
    testing: RoleModel | None = Field(None, description="Writes the reproduction test.")
    editing: RoleModel | None = Field(None, description="Writes search/replace edits.")
    selection: RoleModel | None = Field(None, description="Picks among the top candidates.")
    verifier: RoleModel | None = Field(None, description="Judges candidates (scores/pairs).")

    def for_role(self, role: RoleName) -> RoleModel:
        """The model for ``role`` (falling back to ``default``)."""
        model: RoleModel | None = getattr(self, role) or self.default
        if model is None:
            raise ConfigError(f"models.{role}: no model given and no models.default; set one")
        return model


class SamplingConfig(_Config):
    """Parallel x serial compute: k trajectories per problem, each up to n iterations."""

    k: int = Field(1, ge=1, description="Parallel trajectories (samples) per problem.")
    n: int = Field(1, ge=1, description="Editing iterations per trajectory.")
    test_attempts: int = Field(3, ge=1, description="Testing state machine turns per trajectory.")
    format_fixes: int = Field(2, ge=0, description="'Fix your format' turns per model reply.")
    prompt_cache: bool | None = Field(
        None,
        description="Ask providers to cache each request's shared prefix (system prompt and"
        " first user message: Anthropic cache_control). None: on when k > 1.",
    )

    def cache_prefix(self) -> bool:
        """Whether requests are marked cacheable (``prompt_cache``, else k > 1)."""
        return self.k > 1 if self.prompt_cache is None else self.prompt_cache


class ContextConfig(_Config):
    """The context stage: relevance scores, ranking, packing to a token budget."""

    token_budget: int = Field(60_000, ge=256, description="Tokens of file context per prompt.")
    relevance_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Files scoring below this (0..1) are dropped."
    )
    max_files: int = Field(20, ge=1, description="Rank at most this many relevant files.")
    max_file_tokens: int = Field(
        30_000, ge=1, description="Skip relevance scoring of files longer than this."
    )


class PriorConfig(_Config):
    """The population prior on a problem's success probability p (see agentlab.budget.mixture).

    The default is shaped like CodeMonkeys' SWE-bench numbers: a quarter of the problems
    unsolvable, pass@1 near 0.35.
    """

    zero_mass: float = Field(0.25, ge=0.0, lt=1.0, description="Share of unsolvable problems.")
    alpha: float = Field(0.5, gt=0.0, description="Beta alpha of p on the solvable part.")
    beta: float = Field(0.6, gt=0.0, description="Beta beta of p on the solvable part.")


class UniformPolicyConfig(_Config):
    """Every problem gets ``sampling.k`` samples, all fanned out at once (the default)."""

    type: Literal["uniform"] = "uniform"


class AdaptivePolicyConfig(_Config):
    """Samples in rounds; between rounds agentlab.budget.AdaptivePolicy decides who gets more.

    ``sampling.k`` is the most samples any problem gets.
    """

    type: Literal["adaptive"] = "adaptive"
    min_agreement: int = Field(
        2,
        ge=1,
        description="Stop a problem once this many samples produced the same normalised diff"
        " whose own test fails on the original code and passes on the patched code.",
    )
    threshold: float = Field(
        0.0,
        ge=0.0,
        description="Stop a problem when one more sample's predicted gain (probability of a"
        " new verified solution) per dollar falls below this.",
    )
    sample_usd: float = Field(
        0.5, gt=0.0, description="Expected dollars per sample before a problem has finished one."
    )
    false_positive: float = Field(
        0.1, ge=0.0, lt=1.0, description="P(own test signal on a wrong candidate)."
    )
    false_negative: float = Field(
        0.2, ge=0.0, lt=1.0, description="P(no own test signal on a correct candidate)."
    )
    prior: PriorConfig = Field(PriorConfig(), description="Used when no pilot_run is given.")
    pilot_run: str | None = Field(
        None, description="Fit the prior to this stored run's graded samples instead."
    )


PolicyConfig = Annotated[UniformPolicyConfig | AdaptivePolicyConfig, Field(discriminator="type")]


class LocalExecutorConfig(_Config):
    """Work items run as asyncio tasks in the driver process (the default)."""

    type: Literal["local"] = "local"


class RayExecutorConfig(_Config):
    """Work items run as Ray tasks on nodes advertising sandbox capacity (needs Postgres)."""

    type: Literal["ray"] = "ray"
    address: str | None = Field(
        None, description="Ray cluster address (`HOST:PORT` or `auto`); none = start a local one."
    )
    resource: str = Field(
        "sandbox", description="Custom resource a node advertises per sandbox slot."
    )


ExecutorConfig = Annotated[LocalExecutorConfig | RayExecutorConfig, Field(discriminator="type")]


class BudgetConfig(_Config):
    """Dollar limits, enforced by the LLM client across the whole run."""

    cap_usd: float | None = Field(None, gt=0, description="Hard cap for the run; None = no cap.")
    per_task_usd: float | None = Field(
        None,
        gt=0,
        description="Cap per problem: no new sample starts once the problem's spend plus the"
        " sample's reservation would pass it.",
    )
    sample_reserve_usd: float | None = Field(
        None,
        gt=0,
        description="Worst-case dollars of one sample, held against the caps before it starts;"
        " None = the costliest finished sample of the run so far.",
    )
    policy: PolicyConfig = Field(
        UniformPolicyConfig(), description="How samples are allocated: uniform | adaptive."
    )


class ConcurrencyConfig(_Config):
    """Separate limits: LLM calls are cheap to hold open, sandboxes cost CPU and memory."""

    llm_calls: int = Field(16, ge=1, description="LLM requests in flight across the run.")
    sandboxes: int = Field(2, ge=1, description="Sandboxes running at once.")
    items: int | None = Field(
        None,
        ge=1,
        description="Trajectories in flight at once (default llm_calls + sandboxes, so one"
        " item's model wait overlaps another's sandbox work); the Ray executor uses the"
        " cluster's slots when they are more.",
    )

    @property
    def in_flight(self) -> int:
        """How many work items the executor runs at once."""
        return self.items if self.items is not None else self.llm_calls + self.sandboxes


class SelectionSection(_Config):
    """Selection after sampling: the kind's matrix stage, then the listed methods over the top m.

    The matrix stage is the kind's own (SWE: the vote matrix of generated tests x candidates;
    HumanEval: CodeT dual agreement over the samples' own asserts; stdin/stdout: CodeT over the
    public examples and the outputs on generated inputs). Methods come from the registry in
    :mod:`agentlab.scoring.selectors` (``vote``, ``judge``, ``tournament``, ``trajectory``; a
    bare name means its defaults). The run's answer per problem is the first method in the
    order trajectory, tournament, judge, logprob, vote, codet that picked.
    """

    enabled: bool = Field(False, description="`agentlab run` ends with selection.")
    methods: tuple[SelectorConfig, ...] = Field(
        (VoteConfig(),), description="Selection methods, each run over the top m."
    )
    top_m: int = Field(3, ge=1, description="Candidates (by votes) the methods choose among.")
    max_sandboxes: int = Field(4, ge=1, description="Sandboxes across all problems.")
    sandboxes_per_problem: int = Field(2, ge=1, description="Warm sandboxes per problem.")
    baseline_repeats: int = Field(2, ge=1, description="Runs of each test on the original code.")
    repeats: int = Field(1, ge=1, description="Runs of each (candidate, test) cell.")
    test_timeout_s: float = Field(60.0, gt=0, description="Seconds per test run.")
    generated_inputs: int = Field(
        4,
        ge=0,
        le=32,
        description="stdin/stdout kind: inputs the testing model writes per problem; programs"
        " printing the same outputs on them agree (0: the public examples alone).",
    )

    @field_validator("methods", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return [{"type": v} if isinstance(v, str) else v for v in value]
        return value


class AgentTrajectory(AgentLimits):
    """``trajectory: {type: agent, ...}``: the tool-calling agent (task kind ``swe-agent``).

    Its other keys are the agent's limits (the ``agent:`` section's fields).
    """

    kind: ClassVar[str] = "swe-agent"
    section: ClassVar[str] = "agent"
    type: Literal["agent"] = "agent"


class ExternalTrajectory(ExternalConfig):
    """``trajectory: {type: external, command: ...}``: your own agent program (kind ``external``).

    Its other keys are the ``external:`` section's fields (``command``, ``files``, ...).
    """

    kind: ClassVar[str] = "external"
    section: ClassVar[str] = "external"
    type: Literal["external"] = "external"


TrajectoryConfig = Annotated[AgentTrajectory | ExternalTrajectory, Field(discriminator="type")]


def _section_value(trajectory: AgentTrajectory | ExternalTrajectory) -> BaseModel:
    """What ``trajectory`` puts in its section (``agent:`` / ``external:``)."""
    plain = AgentLimits if isinstance(trajectory, AgentTrajectory) else ExternalConfig
    return plain.model_validate(trajectory.model_dump(exclude={"type"}))


class ExperimentConfig(_Config):
    """One experiment: what to run, with which models, how much compute, where to store it."""

    run_name: str = Field(min_length=1, description="Human label of the run (not its id).")
    seed: int = Field(0, description="Seed for sampling order and model seeds, for replay.")
    dataset: DatasetConfig
    endpoints: tuple[str, ...] = Field(
        (), description="Endpoint YAML file(s), relative to this file (a path or a list)."
    )
    models: ModelsConfig
    sampling: SamplingConfig = SamplingConfig()
    context: ContextConfig = ContextConfig()
    budget: BudgetConfig = BudgetConfig()
    concurrency: ConcurrencyConfig = ConcurrencyConfig()
    cache: Literal["replay", "bypass"] = Field(
        "replay",
        description="replay: answer a request identical to an earlier one in the store (same"
        " prompt, parameters and sample index, any run) from the response cache, billed $0 and"
        " recorded as a replay with its original cost; bypass: always ask the model.",
    )
    sandbox: SandboxConfig = Field(
        DockerConfig(), description="Sandbox provider: `type: docker` (default) or `process`."
    )
    executor: ExecutorConfig = Field(
        LocalExecutorConfig(),
        description="Where work items run: `type: local` (default) or `type: ray`.",
    )
    selection: SelectionSection = SelectionSection()
    agent: AgentLimits = Field(
        AgentLimits(),
        description="The tool-calling agent's limits and mode (used by `trajectory: {type:"
        " agent}`, which may carry them itself).",
    )
    external: ExternalConfig = Field(
        ExternalConfig(),
        description="Your own agent program (used by `trajectory: {type: external}`, which"
        " may carry these fields itself; docs/agent.md).",
    )
    trajectory: TrajectoryConfig | None = Field(
        None,
        description="What a trajectory is: `{type: agent, <agent limits>}` or `{type: external,"
        " command: ..., <external fields>}`; sets dataset.kind and fills the agent/external"
        " section. None = the kind's own (the state machines for SWE data).",
    )
    store: str = Field("sqlite:///agentlab.db", description="Result store URL.")

    @field_validator("trajectory")
    @classmethod
    def _no_conflict(
        cls, value: AgentTrajectory | ExternalTrajectory | None, info: ValidationInfo
    ) -> AgentTrajectory | ExternalTrajectory | None:
        # dataset, agent and external are declared above, so they are validated by now.
        if value is None:
            return value
        dataset = info.data.get("dataset")
        if dataset is not None and dataset.kind not in (None, value.kind):
            raise ValueError(
                f"trajectory.type {value.type!r} (kind {value.kind!r}) conflicts with"
                f" dataset.kind {dataset.kind!r}; give only one of them"
            )
        given = info.data.get(value.section)
        default = AgentLimits() if value.section == "agent" else ExternalConfig()
        if given is not None and given not in (default, _section_value(value)):
            raise ValueError(
                f"trajectory and {value.section}: both configure the {value.type} trajectory;"
                f" move the {value.section}: settings under trajectory"
            )
        return value

    @model_validator(mode="after")
    def _apply_trajectory(self) -> Self:
        # The documented spelling names the kind and carries its settings; the kinds read
        # dataset.kind and the agent/external sections, so fill those (consistent by the check
        # above; a stored config validates again to the same values).
        t = self.trajectory
        if t is not None:
            object.__setattr__(self, "dataset", self.dataset.model_copy(update={"kind": t.kind}))
            object.__setattr__(self, t.section, _section_value(t))
        return self

    @field_validator("endpoints", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_name(cls, value: object) -> object:
        # `executor: ray` (or `executor=ray` on the command line) is short for `{type: ray}`.
        return {"type": value} if isinstance(value, str) else value

    @field_validator("models")
    @classmethod
    def _some_model(cls, value: ModelsConfig) -> ModelsConfig:
        if value.default is None and value.editing is None:
            raise ValueError("give models.default or at least models.editing")
        return value

    def roles(self) -> dict[str, RoleModel]:
        """Every role that resolves to a model, by role name."""
        out: dict[str, RoleModel] = {}
        for role in ROLES:
            model = getattr(self.models, role) or self.models.default
            if model is not None:
                out[role] = model
        return out


# ------------------------------------------------------------------------------ loading


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"override {text!r}: expected key.path=value, e.g. sampling.k=8")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from exc
    return tuple(int(p) if p.isdigit() else p for p in parts), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> set[KeyPath]:
    """Set each override in ``data`` (in place), creating mappings as needed."""
    touched: set[KeyPath] = set()
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            node = _step_into(node, part, text, make_list=isinstance(nxt, int))
        last = path[-1]
        if isinstance(node, list) and isinstance(last, int) and last < len(node):
            node[last] = value
        elif isinstance(node, dict):
            node[str(last)] = value
        else:
            raise ConfigError(f"override {text!r}: cannot set {last!r} inside a {_kind(node)}")
        touched.add(path)
    return touched


def _step_into(node: Any, part: str | int, text: str, *, make_list: bool) -> Any:
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    if isinstance(node, dict):
        key = str(part)
        if node.get(key) is None:
            node[key] = [] if make_list else {}
        if isinstance(node[key], dict | list):
            return node[key]
        node = node[key]
    raise ConfigError(f"override {text!r}: cannot go into {part!r} of a {_kind(node)}")


def _kind(node: Any) -> str:
    return "list" if isinstance(node, list) else type(node).__name__


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path in a YAML document to its 1-based line number (via yaml.compose)."""
    root = yaml.compose(text)
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, str(key_node.value))
                lines[key] = key_node.start_mark.line + 1
                walk(value_node, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return lines


def _locate(
    loc: KeyPath, lines: Mapping[KeyPath, int], touched: Collection[KeyPath]
) -> tuple[str, str]:
    """(where, key path) for an error at ``loc``: an override, or the nearest YAML line."""
    key = ".".join(str(p) for p in loc) or "<root>"
    for i in range(len(loc), -1, -1):
        if loc[:i] in touched:
            return "override", key
        if loc[:i] in lines:
            return str(lines[loc[:i]]), key
    return "?", key


def parse_experiment(
    text: str, *, source: str = "<string>", overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """Validate YAML ``text`` (with ``overrides`` applied) as an :class:`ExperimentConfig`."""
    try:
        data = yaml.safe_load(text)
        lines = key_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{source}:{line}: not valid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping of settings, got a {_kind(data)}")
    touched = apply_overrides(data, overrides)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where, key = _locate(tuple(err["loc"]), lines, touched)
        msg = " ".join(str(err["msg"]).split())
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/agent.md for the fields)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        place = f"{source}: override" if where == "override" else f"{source}:{where}:"
        raise ConfigError(f"{place} {key}: {msg}{more}") from exc


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read and validate the experiment config at ``path``, with ``overrides`` applied."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"experiment config {path}: cannot read ({exc.strerror})") from exc
    return parse_experiment(text, source=str(path), overrides=overrides)


def endpoint_files(config: ExperimentConfig, config_path: str | Path) -> list[Path]:
    """The endpoint YAML files of ``config``, resolved against its own file's directory."""
    base = Path(config_path).parent
    return [base / p for p in config.endpoints]


def check_endpoint_names(config: ExperimentConfig, names: Collection[str]) -> None:
    """Raise ConfigError if a role refers to an endpoint that is not in ``names``."""
    for role, model in config.roles().items():
        if model.endpoint not in names:
            known = ", ".join(sorted(names)) or "none"
            raise ConfigError(
                f"models.{role}.endpoint: unknown endpoint {model.endpoint!r} (known: {known})"
            )


def config_hash(config: BaseModel) -> str:
    """sha256 of the canonical JSON of ``config``: equal hashes mean equal configs."""
    canonical = json.dumps(
        config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
