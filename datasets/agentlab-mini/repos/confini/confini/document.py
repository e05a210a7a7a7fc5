"""The Config object: lookups with interpolation, typed getters, edits and dumping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from confini.errors import ConfigError, MissingKeyError
from confini.interpolate import resolve
from confini.lexer import Sections, parse
from confini.values import quote, to_bool, to_list

T = TypeVar("T")
_MISSING = object()


class Config:
    """Sections of string values, read with ``get`` and its typed variants."""

    def __init__(self, sections: Sections | None = None) -> None:
        self._sections: Sections = sections if sections is not None else {}

    def sections(self) -> list[str]:
        return list(self._sections)

    def keys(self, section: str) -> list[str]:
        return list(self._section(section))

    def _section(self, section: str) -> dict[str, str]:
        try:
            return self._sections[section]
        except KeyError:
            raise MissingKeyError(f"no section [{section}]") from None

    def raw(self, section: str, key: str) -> str:
        """The value as written, without interpolation."""
        values = self._section(section)
        if key not in values:
            raise MissingKeyError(f"no key {key!r} in section [{section}]")
        return values[key]

    def get(self, section: str, key: str, default: object = _MISSING) -> str:
        """The value with ``${...}`` references expanded; ``default`` if it is missing."""
        try:
            raw = self.raw(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return str(default)
        return resolve(self, section, raw, ((section, key),))

    def _typed(
        self, section: str, key: str, convert: Callable[[str], T], what: str, default: object
    ) -> T:
        try:
            text = self.get(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return default  # type: ignore[return-value]
        try:
            return convert(text)
        except ValueError:
            raise ConfigError(f"[{section}] {key}: expected {what}, got {text!r}") from None

    def get_int(self, section: str, key: str, default: object = _MISSING) -> int:
        return self._typed(section, key, int, "an integer", default)

    def get_float(self, section: str, key: str, default: object = _MISSING) -> float:
        return self._typed(section, key, float, "a number", default)

    def get_bool(self, section: str, key: str, default: object = _MISSING) -> bool:
        return self._typed(section, key, to_bool, "a boolean", default)

    def get_list(self, section: str, key: str, default: object = _MISSING) -> list[str]:
        return self._typed(section, key, to_list, "a list", default)

    def set(self, section: str, key: str, value: object) -> None:
        """Set a value, creating the section if needed; booleans become yes/no."""
        text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        self._sections.setdefault(section, {})[key] = text

    def remove(self, section: str, key: str) -> None:
        self.raw(section, key)
        del self._sections[section][key]

    def dump(self) -> str:
        """Text that :func:`loads` reads back into an equal Config."""
        blocks = []
        for name, values in self._sections.items():
            lines = [f"[{name}]"] + [f"{k} = {quote(v)}" for k, v in values.items()]
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)

    def as_dict(self) -> Sections:
        return {name: dict(values) for name, values in self._sections.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.as_dict() == other.as_dict()


def loads(text: str) -> Config:
    """Parse confini text."""
    return Config(parse(text))


def load(path: str | Path) -> Config:
    """Read and parse a confini file (UTF-8)."""
    return loads(Path(path).read_text(encoding="utf-8"))
