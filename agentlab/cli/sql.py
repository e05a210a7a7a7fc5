"""``agentlab sql``: read-only SQL over the result store, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentlab.store import open_store
from agentlab.store.sql import run_readonly

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="AGENTLAB_STORE", help="Store URL (default sqlite:///agentlab.db)."
    ),
]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def sql(
    query: Annotated[str, typer.Argument(help="One SQL statement; writes are refused.")],
    store: StoreOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    limit: Annotated[int | None, typer.Option(help="Fetch at most this many rows.")] = None,
) -> None:
    """Run a read-only SQL query against the result store."""
    st = open_store(store)
    try:
        result = run_readonly(st, query, max_rows=limit)
    finally:
        st.close()
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([[_jsonable(v) for v in row] for row in result.rows])
    elif fmt is Format.json:
        records = [
            dict(zip(result.columns, map(_jsonable, row), strict=True)) for row in result.rows
        ]
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        table = Table(*result.columns, show_lines=False)
        for row in result.rows:
            # Text, not str: a value such as [true] must print as itself, not as rich markup.
            table.add_row(*(Text("NULL" if v is None else str(_jsonable(v))) for v in row))
        console = Console()
        console.print(table)
        console.print(f"[dim]{len(result.rows)} row(s)[/]")


def register(app: typer.Typer) -> None:
    app.command(name="sql")(sql)
