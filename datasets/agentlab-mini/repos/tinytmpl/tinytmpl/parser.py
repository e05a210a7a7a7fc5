"""From tokens to a tree of nodes; expressions compile to functions of the context.

Conditions: ``or`` binds loosest, then ``and``, then ``not``, then comparisons
(``== != < > <= >= in``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinytmpl.errors import TemplateSyntaxError
from tinytmpl.filters import FILTERS
from tinytmpl.lexer import Token

Expr = Callable[[Any], Any]  # takes the render context
_WORD = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|-?\d+|[A-Za-z_][\w.]*|==|!=|<=|>=|[<>|:,])")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
}


@dataclass
class Text:
    text: str


@dataclass
class Var:
    expr: Expr


@dataclass
class If:
    branches: list[tuple[Expr, list[Any]]] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class For:
    name: str
    iterable: Expr
    body: list[Any] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


class _ExprParser:
    """Parses one expression (a variable tag or a condition) into a function."""

    def __init__(self, text: str, line: int) -> None:
        self.line = line
        self.words: list[str] = []
        pos, text = 0, text.rstrip()
        while pos < len(text):
            match = _WORD.match(text, pos)
            if match is None:
                raise TemplateSyntaxError(f"cannot read {text[pos:]!r}", line)
            self.words.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def _peek(self) -> str | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def _accept(self, word: str) -> bool:
        if self._peek() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self._filtered()
        if self._peek() is not None:
            raise TemplateSyntaxError(f"unexpected {self._peek()!r}", self.line)
        return expr

    def _filtered(self) -> Expr:
        expr = self._or()
        while self._accept("|"):
            name = self._peek() or ""
            self.pos += 1
            if name not in FILTERS:
                raise TemplateSyntaxError(f"unknown filter {name!r}", self.line)
            args = [self._operand()] if self._accept(":") else []
            expr = _apply(FILTERS[name], expr, args)
        return expr

    def _or(self) -> Expr:
        left = self._and()
        while self._accept("or"):
            left = _either(left, self._and())
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self._accept("and"):
            left = _both(left, self._not())
        return left

    def _not(self) -> Expr:
        if self._accept("not"):
            inner = self._not()
            return lambda ctx: not inner(ctx)
        return self._compare()

    def _compare(self) -> Expr:
        left = self._operand()
        op = self._peek()
        if op in _OPS:
            self.pos += 1
            right, fn = self._operand(), _OPS[op]
            return lambda ctx: fn(left(ctx), right(ctx))
        return left

    def _operand(self) -> Expr:
        word = self._peek()
        if word is None:
            raise TemplateSyntaxError("expression ends too early", self.line)
        self.pos += 1
        if word[0] in "\"'":
            value: Any = word[1:-1].replace('\\"', '"')
            return lambda ctx: value
        if word.lstrip("-").isdigit():
            number = int(word)
            return lambda ctx: number
        constants = {"true": True, "false": False, "none": None}
        if word in constants:
            constant = constants[word]
            return lambda ctx: constant
        if not word[0].isalpha() and word[0] != "_":
            raise TemplateSyntaxError(f"unexpected {word!r}", self.line)
        return lambda ctx: ctx.lookup(word)


def _apply(fn: Callable[..., Any], expr: Expr, args: list[Expr]) -> Expr:
    return lambda ctx: fn(expr(ctx), *(a(ctx) for a in args))


def _either(a: Expr, b: Expr) -> Expr:
    return lambda ctx: a(ctx) or b(ctx)


def _both(a: Expr, b: Expr) -> Expr:
    return lambda ctx: a(ctx) and b(ctx)


def compile_expr(text: str, line: int) -> Expr:
    """Compile ``text`` (``user.name|upper``, ``not a and b``) into a function."""
    if not text:
        raise TemplateSyntaxError("empty expression", line)
    return _ExprParser(text, line).parse()


class Parser:
    """Builds the node tree; block tags must nest properly."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> list[Any]:
        nodes, _ = self._body(())
        return nodes

    def _body(self, stops: tuple[str, ...]) -> tuple[list[Any], Token | None]:
        nodes: list[Any] = []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token.kind == "text":
                nodes.append(Text(token.value))
            elif token.kind == "var":
                nodes.append(Var(compile_expr(token.value, token.line)))
            elif token.value.split()[0] in stops:
                return nodes, token
            else:
                nodes.append(self._block(token))
        return nodes, None

    def _block(self, token: Token) -> Any:
        word, _, rest = token.value.partition(" ")
        if word == "if":
            return self._if(token, rest)
        if word == "for":
            return self._for(token, rest)
        raise TemplateSyntaxError(f"unknown or misplaced tag {word!r}", token.line)

    def _until(self, opener: Token, stops: tuple[str, ...]) -> tuple[list[Any], Token]:
        body, end = self._body(stops)
        if end is None:
            word = opener.value.split()[0]
            raise TemplateSyntaxError(f"unclosed {{% {word} %}} block", opener.line)
        return body, end

    def _if(self, opener: Token, condition: str) -> If:
        node = If()
        cond = compile_expr(condition, opener.line)
        while True:
            body, end = self._until(opener, ("elif", "else", "endif"))
            node.branches.append((cond, body))
            word, _, rest = end.value.partition(" ")
            if word == "elif":
                cond = compile_expr(rest, end.line)
                continue
            if word == "else":
                node.otherwise, _ = self._until(opener, ("endif",))
            return node

    def _for(self, opener: Token, header: str) -> For:
        match = re.fullmatch(r"([A-Za-z_]\w*)\s+in\s+(.+)", header.strip())
        if match is None:
            raise TemplateSyntaxError(f"bad for loop {header!r}", opener.line)
        node = For(match.group(1), compile_expr(match.group(2), opener.line))
        node.body, end = self._until(opener, ("else", "endfor"))
        if end.value == "else":
            node.otherwise, _ = self._until(opener, ("endfor",))
        return node
