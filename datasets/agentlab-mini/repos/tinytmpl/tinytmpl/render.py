"""Rendering the node tree against a context of variables."""

from __future__ import annotations

from collections import ChainMap
from typing import Any

from tinytmpl.errors import UndefinedError
from tinytmpl.filters import Markup, Undefined, escape
from tinytmpl.lexer import tokenize
from tinytmpl.parser import For, If, Parser, Text, Var


class Context:
    """Variables in nested scopes; dotted names reach into dicts, attributes and lists."""

    def __init__(self, values: dict[str, Any], strict: bool) -> None:
        self.scopes: ChainMap[str, Any] = ChainMap(values)
        self.strict = strict

    def lookup(self, path: str) -> Any:
        head, *rest = path.split(".")
        value = self.scopes.get(head, Undefined(head))
        for part in rest:
            value = _step(value, part)
        if isinstance(value, Undefined) and self.strict:
            raise UndefinedError(f"{path!r} is undefined")
        return value


def _step(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, Undefined(part))
    if part.isdigit() and isinstance(value, list | tuple):
        index = int(part)
        return value[index] if index < len(value) else Undefined(part)
    return getattr(value, part, Undefined(part))


class Template:
    """A compiled template; ``render(**variables)`` may be called many times."""

    def __init__(self, source: str, *, autoescape: bool = True, strict: bool = False) -> None:
        self.nodes = Parser(tokenize(source)).parse()
        self.autoescape = autoescape
        self.strict = strict

    def render(self, **variables: Any) -> str:
        out: list[str] = []
        self._render(self.nodes, Context(variables, self.strict), out)
        return "".join(out)

    def _render(self, nodes: list[Any], ctx: Context, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Var):
                value = node.expr(ctx)
                out.append(escape(value) if self.autoescape else str(value))
            elif isinstance(node, If):
                self._render_if(node, ctx, out)
            elif isinstance(node, For):
                self._render_for(node, ctx, out)

    def _render_if(self, node: If, ctx: Context, out: list[str]) -> None:
        for condition, body in node.branches:
            if condition(ctx):
                self._render(body, ctx, out)
                return
        self._render(node.otherwise, ctx, out)

    def _render_for(self, node: For, ctx: Context, out: list[str]) -> None:
        items = list(node.iterable(ctx))
        if not items:
            self._render(node.otherwise, ctx, out)
            return
        for i, item in enumerate(items):
            loop = {
                "index": i + 1,
                "index0": i,
                "first": i == 0,
                "last": i == len(items) - 1,
                "length": len(items),
            }
            # A fresh scope per iteration: the loop variable does not leak out.
            ctx.scopes = ctx.scopes.new_child({node.name: item, "loop": loop})
            try:
                self._render(node.body, ctx, out)
            finally:
                ctx.scopes = ctx.scopes.parents


def render(source: str, **variables: Any) -> str:
    """Compile and render in one step, with autoescaping."""
    return Template(source).render(**variables)


__all__ = ["Markup", "Template", "render"]
