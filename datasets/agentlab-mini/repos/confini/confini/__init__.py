"""confini: an INI-style configuration format with quoting, continuation and interpolation."""

from confini.document import Config, load, loads
from confini.errors import ConfigError, InterpolationError, MissingKeyError, ParseError

__all__ = [
    "Config",
    "ConfigError",
    "InterpolationError",
    "MissingKeyError",
    "ParseError",
    "load",
    "loads",
]
