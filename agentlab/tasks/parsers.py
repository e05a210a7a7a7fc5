"""One name -> one log parser: agentlab's own, or any the SWE-bench harness registers.

An instance (or an old-format spec) names its parser: ``pytest`` / ``unittest`` are agentlab's
own (no extra needed; they give the harness's ``parse_log_pytest`` / ``parse_log_django``
results on those runners' logs), and every ``parse_log_*`` name is the harness's own function,
called through :mod:`agentlab.tasks.official` (extra ``agentlab[swebench]``).
"""

from __future__ import annotations

from functools import partial

from agentlab.tasks import log_parsers, official
from agentlab.tasks.harness_rules import Parse
from agentlab.tasks.official import SpecFields
from agentlab.tasks.swebench import SWEInstance

HARNESS_PREFIX = "parse_log_"


def is_known(name: str) -> bool:
    """Whether ``name`` names a parser agentlab can run here (harness ones need the extra)."""
    if name in log_parsers.PARSERS:
        return True
    return name.startswith(HARNESS_PREFIX) and official.available()


def known_names() -> tuple[str, ...]:
    """Every parser name usable now, agentlab's first."""
    names = tuple(log_parsers.PARSERS)
    return names + (official.parser_names() if official.available() else ())


def fields_for(instance: SWEInstance, parser: str = "") -> SpecFields:
    """What a parser or the harness's grading reads from ``instance``."""
    return SpecFields(
        instance_id=instance.instance_id,
        repo=instance.repo,
        version=instance.version,
        fail_to_pass=instance.fail_to_pass,
        pass_to_pass=instance.pass_to_pass,
        log_parser=parser or instance.log_parser,
        eval_type=instance.eval_type or "pass_and_fail",
        image=instance.image,
        image_assets=dict(instance.image_assets),
    )


def parser_for(name: str, fields: SpecFields) -> Parse:
    """A ``log -> status map`` function for parser ``name`` on the instance ``fields``."""
    own = log_parsers.PARSERS.get(name)
    if own is not None:
        return own
    return partial(official.parse, name, fields=fields)


def parse(name: str, log: str, fields: SpecFields) -> dict[str, str]:
    """The status map parser ``name`` reads from ``log``."""
    return parser_for(name, fields)(log)
