"""The official SWE-bench harness (the ``swebench`` package, extra ``agentlab[swebench]``).

The only module that imports ``swebench``. Its log-parser registry and grading functions are
called as a library, never copied, so ``--grading swebench`` parses and grades the way the
harness does and follows it when it changes. Without the extra, every entry point raises
:class:`HarnessMissingError` naming the install command; agentlab's own pytest/unittest parsers
and the harness rules in :mod:`agentlab.tasks.harness_rules` still work.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from agentlab.errors import AgentlabError

INSTALL_HINT = "pip install 'agentlab[swebench]'"


class HarnessMissingError(AgentlabError, ImportError):
    """The ``swebench`` package is needed for this and is not installed."""


@dataclass(frozen=True)
class SpecFields:
    """What the harness's parsers and graders read from an instance (its ``TestSpec``)."""

    instance_id: str
    repo: str = ""
    version: str = ""
    fail_to_pass: Sequence[str] = ()
    pass_to_pass: Sequence[str] = ()
    log_parser: str = ""
    eval_type: str = "pass_and_fail"
    image: str = ""
    image_assets: dict[str, Any] = field(default_factory=dict)


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise HarnessMissingError(
            f"cannot import {exc.name or name} (the swebench package or a dependency of it); "
            f"run: {INSTALL_HINT}"
        ) from exc


def available() -> bool:
    """Whether the ``swebench`` package can be imported."""
    try:
        _module("swebench")
    except HarnessMissingError:
        return False
    return True


def version() -> str:
    """The installed harness version (e.g. ``5.0.2``)."""
    return str(_module("swebench").__version__)


def parser_names() -> tuple[str, ...]:
    """Every log parser the harness names (keys of its ``PARSER_REGISTRY``)."""
    registry = _module("swebench.harness.log_parsers").PARSER_REGISTRY
    return tuple(sorted(registry))


def test_spec(fields: SpecFields) -> Any:
    """The harness's ``TestSpec`` for ``fields`` (no eval script: grading does not read it)."""
    types = _module("swebench.types")
    return types.TestSpec(
        instance_id=fields.instance_id,
        image=fields.image,
        eval_script_list=[],
        repo=fields.repo,
        version=fields.version,
        FAIL_TO_PASS=list(fields.fail_to_pass),
        PASS_TO_PASS=list(fields.pass_to_pass),
        log_parser=fields.log_parser,
        eval_type=fields.eval_type or "pass_and_fail",
        image_assets=dict(fields.image_assets),
    )


def parse(parser: str, log: str, fields: SpecFields) -> dict[str, str]:
    """The status map the harness's parser ``parser`` reads from ``log``."""
    registry = _module("swebench.harness.log_parsers").PARSER_REGISTRY
    if parser not in registry:
        raise HarnessMissingError(
            f"log parser {parser!r} is not in swebench {version()}; upgrade: {INSTALL_HINT}"
        )
    return cast(dict[str, str], registry[parser](log, test_spec(fields)))


def _with_log_file(text: str, call: Any) -> Any:
    # The harness's graders read the log from a path, as they do from its run directory.
    with tempfile.TemporaryDirectory(prefix="agentlab-harness-") as tmp:
        path = Path(tmp) / "test_output.txt"
        path.write_text(text, encoding="utf-8")
        return call(str(path))


def logs_eval(fields: SpecFields, log: str) -> tuple[dict[str, str], bool]:
    """The harness's ``get_logs_eval``: (status map, whether the log is a valid test run)."""
    grading = _module("swebench.harness.grading")
    spec = test_spec(fields)
    result = _with_log_file(log, lambda path: grading.get_logs_eval(spec, path))
    return cast(tuple[dict[str, str], bool], result)


def eval_report(fields: SpecFields, model_patch: str | None, log: str) -> dict[str, Any]:
    """The harness's per-instance ``report.json`` (``get_eval_report``) for a finished run."""
    grading = _module("swebench.harness.grading")
    spec = test_spec(fields)
    pred = {"instance_id": fields.instance_id, "model_patch": model_patch}
    result = _with_log_file(
        log,
        lambda path: grading.get_eval_report(spec, pred, path, include_tests_status=True),
    )
    return cast(dict[str, Any], result)


def classify_infra(text: str) -> tuple[str, str] | None:
    """The harness's infrastructure-failure triage: ``(reason, tier)`` or None."""
    infra = _module("swebench.harness.infra_failure")
    return cast("tuple[str, str] | None", infra.classify_text(text))
