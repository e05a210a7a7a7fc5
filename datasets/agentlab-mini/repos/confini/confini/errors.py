"""The errors confini raises; all derive from ConfigError."""


class ConfigError(Exception):
    """Anything wrong with a configuration."""


class ParseError(ConfigError):
    """The text is not valid confini; ``lineno`` is 1-based."""

    def __init__(self, message: str, lineno: int) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


class MissingKeyError(ConfigError, KeyError):
    """A section or key that is not in the configuration."""

    def __str__(self) -> str:
        return str(self.args[0])


class InterpolationError(ConfigError):
    """A ``${...}`` reference that cannot be resolved."""
