"""The ``agentlab`` command: the composition root.

Each area registers its commands from its own module (``agentlab/cli/<area>.py`` exposing
``register(app)``); this module only assembles them and turns agentlab's errors into one clear
line on stderr instead of a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from agentlab.errors import AgentlabError

app = typer.Typer(
    name="agentlab",
    help="Spend inference compute well: sample, test, select and budget code-generating LLMs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)


def _register_all() -> None:
    # Imported here, not at module top, so `agentlab --help` stays fast and one area's
    # optional dependency cannot break the others.
    from agentlab.cli import budget, convert, demo, eval, models, run, sandbox, select, sql, view

    for module in (sql, sandbox, eval, convert, budget, models, run, select, demo, view):
        module.register(app)


_register_all()


@app.callback()
def _root() -> None:
    """agentlab: sample, test, select and budget code-generating LLMs."""


def main() -> None:
    """Console-script entry point: agentlab's own errors become one line, exit code 2.

    So do they when concurrent work raised them (an exception group holding only agentlab
    errors: the first is shown); anything else keeps its traceback, as a bug should.
    """
    try:
        app()
    except AgentlabError as exc:
        _fail(exc)
    except BaseExceptionGroup as group:
        ours, rest = group.split(AgentlabError)
        if ours is None or rest is not None:
            raise
        leaf: BaseException = ours
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        _fail(leaf)


def _fail(exc: BaseException) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    sys.exit(2)
