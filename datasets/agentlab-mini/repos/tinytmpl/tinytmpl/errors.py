"""Errors raised while compiling or rendering templates."""


class TemplateError(Exception):
    """Base class of tinytmpl errors."""


class TemplateSyntaxError(TemplateError):
    """The template text is malformed; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"{message} (line {line})")
        self.line = line


class UndefinedError(TemplateError):
    """A variable is missing and the template is strict."""
