"""tinytmpl: a small text template engine with filters, conditions and loops."""

from tinytmpl.errors import TemplateError, TemplateSyntaxError, UndefinedError
from tinytmpl.filters import Markup
from tinytmpl.render import Template, render

__all__ = [
    "Markup",
    "Template",
    "TemplateError",
    "TemplateSyntaxError",
    "UndefinedError",
    "render",
]
