"""``${key}`` and ``${section.key}`` references inside values; ``$$`` is a literal ``$``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from confini.errors import InterpolationError, MissingKeyError

if TYPE_CHECKING:
    from confini.document import Config

_REF = re.compile(r"\$\$|\$\{([^}]*)\}")

Stack = tuple[tuple[str, str], ...]


def resolve(config: Config, section: str, value: str, stack: Stack) -> str:
    """Expand references in ``value`` read from ``section``; ``stack`` is the chain so far."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        ref = match.group(1).strip()
        # Section names may contain dots ("db.primary"): the key is after the last one.
        ref_section, _, key = ref.rpartition(".")
        ref_section = ref_section or section
        if not key:
            raise InterpolationError(f"empty reference in [{section}]")
        if (ref_section, key) in stack:
            chain = " -> ".join(f"{s}.{k}" for s, k in (*stack, (ref_section, key)))
            raise InterpolationError(f"interpolation cycle: {chain}")
        try:
            raw = config.raw(ref_section, key)
        except MissingKeyError:
            raise InterpolationError(
                f"[{section}] refers to ${{{ref}}}, which is not defined"
            ) from None
        return resolve(config, ref_section, raw, (*stack, (ref_section, key)))

    return _REF.sub(substitute, value)
