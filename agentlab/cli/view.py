"""``agentlab view`` (a local, read-only web app over the store) and the static bundle of
``agentlab report RUN --html DIR`` (the report command itself lives with ``select``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentlab.errors import ConfigError

console = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="AGENTLAB_STORE", help="Store URL (default sqlite:///agentlab.db)."
    ),
]


def view_command(
    store: StoreOpt = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes the store.")
    ] = "127.0.0.1",
) -> None:
    """Browse runs, problems, trajectories and comparisons in a local, read-only web app."""
    from agentlab.viewer.api import Api
    from agentlab.viewer.db import ReadOnlyStore
    from agentlab.viewer.server import is_loopback, make_server

    db = ReadOnlyStore(store)
    if not is_loopback(host):
        console.print(
            f"[bold yellow]warning:[/] binding {host}: anyone who can reach this address can "
            "read every run, prompt and output in the store (no authentication)",
            highlight=False,
        )
    try:
        server = make_server(Api(db), host, port)
    except OSError as exc:
        db.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; try --port") from exc
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"agentlab view: http://{shown}:{server.server_address[1]}/ (store {db.url}; Ctrl-C stops)",
        highlight=False,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        db.close()


def write_html_report(run_id: str, html: Path, store: str | None) -> None:
    """``agentlab report RUN --html DIR``: RUN's viewer pages as a static bundle."""
    from agentlab.viewer.api import Api
    from agentlab.viewer.db import ReadOnlyStore
    from agentlab.viewer.report import write_report

    db = ReadOnlyStore(store)
    try:
        files = write_report(Api(db), run_id, html)
    finally:
        db.close()
    console.print(f"report of {run_id}: {html}/index.html ({files} files)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command(name="view")(view_command)
