"""`people export ID`: everything the services hold about one person (PDPA right of access),
gathered from each service by this command (deploy/stack/subject_access.py says why here)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.cli.endpoints import service_urls
from deploy.cli.options import AdminKey
from deploy.cli.output import err, print_json

people = typer.Typer(help="People: PDPA subject access.", no_args_is_help=True)


@people.command("export")
def export(
    person_id: Annotated[str, typer.Argument(help="the person's id")],
    key: AdminKey = "",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write the document here, not stdout")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds per service")] = 10.0,
) -> None:
    """One JSON document of what every service holds about PERSON_ID, each part marked with
    its service; a service that cannot be reached is named in it. Needs an admin key (the
    parts are personal data); URLs: SKILLBRIDGE_<SERVICE>_URL. Exit 1 if a part is missing."""
    from deploy.stack.subject_access import gather

    document = asyncio.run(gather(service_urls(), key, person_id, timeout=timeout))
    if out is None:
        print_json(document)
    else:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    for part in document["parts"]:
        if part["state"] in ("unreachable", "error"):
            err.print(f"[red]✗[/] {part['service']}: {part['state']}", highlight=False)
    raise typer.Exit(0 if document["complete"] else 1)
