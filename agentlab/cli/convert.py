"""``agentlab convert-instances``: write the current SWE-bench instance format from an older one.

The older format needs a spec file (``specs.json``) per repo and version; the current one
(swebench 5.x) carries each instance's ``image``, ``eval_script`` and ``log_parser``. The
output is read unchanged by ``agentlab eval`` and by the official harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentlab.errors import ConfigError
from agentlab.tasks.instances import DEFAULT_NAMESPACE, convert, write_jsonl


def convert_command(
    dataset: Annotated[
        str, typer.Argument(help="agentlab-mini, or an older-format dataset folder / file.")
    ],
    output: Annotated[Path, typer.Argument(help="The .jsonl file to write.")],
    specs: Annotated[
        Path | None,
        typer.Option(help="specs.json for a bare instances file (a folder carries its own)."),
    ] = None,
    namespace: Annotated[
        str, typer.Option(help="Image names: <namespace>/sweb.eval.x86_64.<instance>:latest.")
    ] = DEFAULT_NAMESPACE,
) -> None:
    """Convert older-format instances plus specs into the current official format."""
    from agentlab.coordinator.kinds.swe_data import resolve_dataset
    from agentlab.tasks.swebench import dataset_from_records, load_specs, read_records

    if output.suffix != ".jsonl":
        raise ConfigError(f"{output}: the output must be a .jsonl file")
    if specs is not None:
        path = Path(dataset)
        data = dataset_from_records(read_records(path), name=path.name, specs=load_specs(specs))
    else:
        data = resolve_dataset(dataset)
    records = convert(data, namespace=namespace)
    write_jsonl(records, output)
    for problem in data.problems:
        typer.echo(f"skipped {problem}", err=True)
    typer.echo(f"wrote {len(records)} instances to {output}")


def register(app: typer.Typer) -> None:
    app.command(name="convert-instances")(convert_command)
