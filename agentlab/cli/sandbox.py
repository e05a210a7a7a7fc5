"""``agentlab sandbox``: build the base image, list/prune images, reap leaked containers."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

sandbox_app = typer.Typer(help="Sandbox images and cleanup.", no_args_is_help=True)
console = Console()


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _human_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@sandbox_app.command("gc")
def gc_cmd(
    ttl: Annotated[
        float | None,
        typer.Option(help="Remove containers older than this many seconds (default: own TTL)."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Remove every agentlab container, live or not.")
    ] = False,
    run_id: Annotated[str | None, typer.Option(help="Only this run's containers.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="Sandbox provider (default docker).")] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the gc on every node of this Ray cluster (HOST:PORT or auto);"
            " --all then needs --run-id."
        ),
    ] = None,
) -> None:
    """Remove agentlab containers whose owner is gone, that stopped, or that outlived a TTL."""
    from agentlab.cli.options import sandbox_provider

    if cluster is not None:
        from agentlab.coordinator.executors.ray import gc_cluster

        by_node = gc_cluster(run_id, everything=all_, ttl_s=ttl, address=cluster)
        for node, names in by_node.items():
            for name in names:
                console.print(f"{node}: removed {name}")
        total = sum(len(n) for n in by_node.values())
        console.print(f"[dim]{total} container(s) removed on {len(by_node)} node(s)[/]")
        return

    provider = sandbox_provider(sandbox)
    removed = asyncio.run(provider.reap(run_id, ttl_s=ttl, everything=all_))
    for name in removed:
        console.print(f"removed {name}")
    console.print(f"[dim]{len(removed)} container(s) removed[/]")


@sandbox_app.command("build-base")
def build_base_cmd(
    from_image: Annotated[
        str | None,
        typer.Option("--from", help="Build on this pullable image instead of debootstrap."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the image exists.")] = False,
) -> None:
    """Build agentlab/base:bookworm offline (debootstrap + docker import); 1-2 minutes."""
    from agentlab.sandbox.images import build_base

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tag = build_base(from_image=from_image, force=force)
    console.print(f"ready: {tag}")


@sandbox_app.command("images")
def images_cmd(
    prune: Annotated[bool, typer.Option(help="Remove agentlab images (keeps the base).")] = False,
    older_than: Annotated[
        float, typer.Option(help="With --prune: only images older than this many hours.")
    ] = 0.0,
) -> None:
    """List agentlab images with size and age, or prune them."""
    from agentlab.sandbox.images import list_images, prune_images

    if prune:
        removed = prune_images(older_than * 3600)
        for tag in removed:
            console.print(f"removed {tag}")
        console.print(f"[dim]{len(removed)} image(s) removed[/]")
        return
    table = Table("tag", "id", "size", "age")
    for row in list_images():
        table.add_row(
            str(row["tag"]),
            str(row["id"]).removeprefix("sha256:")[:12],
            _human_bytes(float(str(row["size"]))),
            _human_age(float(str(row["age_s"]))),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
