"""Options several commands share, parsed the one way."""

from __future__ import annotations

from agentlab.protocols import SandboxProvider
from agentlab.sandbox import make_provider, parse_option


def sandbox_provider(option: str | None) -> SandboxProvider:
    """The provider ``--sandbox TYPE[,key=value...]`` names (Docker when not given)."""
    return make_provider(parse_option(option) if option else None)
