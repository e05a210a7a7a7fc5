"""SWE-bench instances, per-repo specs and dataset folders.

A dataset is either a bare instances file (``.jsonl`` / ``.json``) or a folder holding
``instances.jsonl``, ``specs.json`` (per repo and version: install commands, test command, log
parser) and ``repos/<owner>__<name>.bundle`` (git bundles, so a run needs no network).
Loading never stops at the first bad instance: every problem is collected as a
:class:`LoadProblem` naming the instance, and the valid instances still run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentlab.errors import DatasetError
from agentlab.tasks.hub import read_parquet

LogParser = Literal["pytest", "unittest"]
KNOWN_PARSERS: tuple[str, ...] = ("pytest", "unittest")


class SWEInstance(BaseModel):
    """One SWE-bench task instance. Unknown extra fields (e.g. ``difficulty``) are kept out."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    instance_id: str = Field(min_length=1)
    repo: str = Field(pattern=r"^[^/\s]+/[^/\s]+$")
    base_commit: str = Field(min_length=4)
    patch: str = ""
    test_patch: str = ""
    problem_statement: str = ""
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    fail_to_pass: tuple[str, ...] = Field(default=(), alias="FAIL_TO_PASS")
    pass_to_pass: tuple[str, ...] = Field(default=(), alias="PASS_TO_PASS")
    # The current official format (swebench 5.x): each instance names its own image, carries
    # its eval script and names its log parser and grading type. Empty in the older format.
    image: str = ""
    eval_script: str = ""
    log_parser: str = ""
    eval_type: str = ""
    image_assets: dict[str, Any] = Field(default_factory=dict)

    @field_validator("image_assets", mode="before")
    @classmethod
    def _decode_assets(cls, value: Any) -> Any:
        # Published datasets store image_assets as a JSON string (often empty).
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from exc
        return value

    @property
    def is_current_format(self) -> bool:
        """Whether the instance carries its own eval script (no spec file needed)."""
        return bool(self.eval_script)

    @field_validator("fail_to_pass", "pass_to_pass", mode="before")
    @classmethod
    def _decode_list(cls, value: Any) -> Any:
        # The published datasets store these as JSON-encoded strings; accept lists as well.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list of test ids: {exc}") from exc
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of test ids (strings)")
        return tuple(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @property
    def repo_slug(self) -> str:
        """``owner__name``: how bundles and logs name the repo."""
        return self.repo.replace("/", "__")


class RepoSpec(BaseModel):
    """How to install and test one repo at one version."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    install: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    test_cmd: str = Field(min_length=1)
    log_parser: str = "pytest"
    # Strict mode runs pytest with plugin autoloading off: these are loaded with ``-p``.
    pytest_plugins: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadProblem:
    """Why one instance cannot run; printed and reported, the rest of the run goes on."""

    instance_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.instance_id}: {self.message}"


@dataclass
class Dataset:
    """Valid instances (with their spec and source) plus the problems found while loading."""

    name: str
    instances: list[SWEInstance] = field(default_factory=list)
    specs: dict[tuple[str, str], RepoSpec] = field(default_factory=dict)
    bundles: dict[str, Path] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)

    def spec_for(self, instance: SWEInstance) -> RepoSpec:
        return self.specs[(instance.repo, instance.version)]

    def source_for(self, instance: SWEInstance) -> Path | str:
        """A local bundle if the dataset ships one, else the repo's public clone URL."""
        return self.bundles.get(instance.repo) or f"https://github.com/{instance.repo}.git"

    def by_id(self) -> dict[str, SWEInstance]:
        return {i.instance_id: i for i in self.instances}


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records from ``.jsonl`` (one object a line) or ``.json`` (a list, or a dict by id)."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; pass an existing .jsonl or .json file")
    if path.suffix == ".parquet":
        return read_parquet(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            records: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if isinstance(records, dict):
        records = [
            {"instance_id": key, **value} if isinstance(value, dict) else value
            for key, value in records.items()
        ]
    if not isinstance(records, list):
        raise DatasetError(f"{path}: expected a list of objects (or a dict keyed by id)")
    return records


def parse_instances(records: Iterable[Any]) -> tuple[list[SWEInstance], list[LoadProblem]]:
    """Validate records one by one: good ones become instances, bad ones problems by id."""
    good: list[SWEInstance] = []
    problems: list[LoadProblem] = []
    for index, record in enumerate(records):
        ident = (
            str(record.get("instance_id", f"#{index}"))
            if isinstance(record, dict)
            else (f"#{index}")
        )
        if not isinstance(record, dict):
            problems.append(LoadProblem(ident, "record is not a JSON object"))
            continue
        try:
            good.append(SWEInstance.model_validate(record))
        except ValidationError as exc:
            problems.append(LoadProblem(ident, f"malformed instance: {_first_error(exc)}"))
    return good, problems


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


def load_specs(path: Path) -> dict[tuple[str, str], RepoSpec]:
    """``specs.json``: ``{repo: {version: spec}}`` (also accepts ``{"repo@version": spec}``)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read specs: {exc}") from exc
    specs: dict[tuple[str, str], RepoSpec] = {}
    for key, value in raw.items():
        if "@" in key and "test_cmd" in value:
            repo, version = key.rsplit("@", 1)
            pairs = [(repo, version, value)]
        else:
            pairs = [(key, str(ver), spec) for ver, spec in value.items()]
        for repo, version, spec in pairs:
            try:
                specs[(repo, version)] = RepoSpec.model_validate(spec)
            except ValidationError as exc:
                raise DatasetError(
                    f"{path}: spec for {repo} {version}: {_first_error(exc)}"
                ) from exc
    return specs


def load_dataset(path: Path, *, name: str | None = None, offline: bool = False) -> Dataset:
    """Load a dataset folder or a bare instances file; problems are collected, not raised.

    With ``offline`` a repo with no local bundle is a problem; otherwise it is cloned from
    its public URL when its image is built.
    """
    if path.is_dir():
        inst_file = next(
            (
                path / n
                for n in ("instances.jsonl", "instances.json", "test.parquet")
                if (path / n).exists()
            ),
            None,
        )
        if inst_file is None:
            raise DatasetError(f"{path}: dataset folder has no instances.jsonl")
        specs = load_specs(path / "specs.json") if (path / "specs.json").exists() else {}
        bundles = {
            b.stem.replace("__", "/", 1): b for b in sorted((path / "repos").glob("*.bundle"))
        }
    else:
        inst_file, specs, bundles = path, {}, {}
    return dataset_from_records(
        read_records(inst_file),
        name=name or path.name,
        specs=specs,
        bundles=bundles,
        offline=offline,
    )


def dataset_from_records(
    records: Iterable[Any],
    *,
    name: str,
    specs: dict[tuple[str, str], RepoSpec] | None = None,
    bundles: dict[str, Path] | None = None,
    offline: bool = False,
) -> Dataset:
    """A dataset from instance records (a file's, or a hub dataset's rows)."""
    instances, problems = parse_instances(records)
    dataset = Dataset(name, [], specs or {}, bundles or {}, problems)
    seen: set[str] = set()
    for inst in instances:
        problem = _check(dataset, inst, seen, offline)
        if problem:
            problems.append(LoadProblem(inst.instance_id, problem))
        else:
            dataset.instances.append(inst)
        seen.add(inst.instance_id)
    return dataset


def _check(dataset: Dataset, inst: SWEInstance, seen: set[str], offline: bool) -> str | None:
    if inst.instance_id in seen:
        return "duplicate instance_id; the first one is used"
    if inst.is_current_format:
        # Self-contained: its image and eval script replace the spec and the bundle.
        missing = [n for n in ("image", "log_parser") if not getattr(inst, n)]
        if missing:
            return f"current-format instance (it has an eval_script) lacks {', '.join(missing)}"
        return None
    if offline and inst.repo not in dataset.bundles:
        return (
            f"missing source: no repos/{inst.repo_slug}.bundle in the dataset and network "
            "use is off; add the bundle or drop --offline"
        )
    spec = dataset.specs.get((inst.repo, inst.version))
    if spec is None:
        return (
            f"no spec for repo {inst.repo} version {inst.version!r}; "
            "add it to the dataset's specs.json"
        )
    if spec.log_parser not in KNOWN_PARSERS and not spec.log_parser.startswith("parse_log_"):
        return (
            f"unknown log parser {spec.log_parser!r}; use one of {', '.join(KNOWN_PARSERS)} "
            "or a swebench parse_log_* name"
        )
    return None


def namespace_image(namespace: str, instance_id: str) -> str:
    """The public prebuilt instance image name, as the SWE-bench images are named."""
    key = instance_id.lower().replace("__", "_1776_")
    return f"{namespace}/sweb.eval.x86_64.{key}:latest"


def diff_files(diff: str, *, include_new: bool = True) -> list[str]:
    """Paths a unified diff touches (the ``b/`` side; the ``a/`` side for deletions)."""
    files: list[str] = []
    old = ""
    for line in diff.splitlines():
        if line.startswith("--- "):
            old = line[4:].split("\t")[0].strip()
        elif line.startswith("+++ "):
            new = line[4:].split("\t")[0].strip()
            if old == "/dev/null" and not include_new:
                continue
            path = old if new == "/dev/null" else new
            path = path[2:] if path.startswith(("a/", "b/")) else path
            if path not in files:
                files.append(path)
    return files
