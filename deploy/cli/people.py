"""`import-people`: upload a CSV of people and households to the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def import_people(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the CSV to import")],
    url: Annotated[str, typer.Option(help="the registry")] = "http://127.0.0.1:8001",
    key: Annotated[
        str, typer.Option(envvar="SKILLBRIDGE_API_KEY", help="an API key with write access")
    ] = "",
    report: Annotated[
        Path | None, typer.Option(help="rejection report CSV; default: next to FILE")
    ] = None,
) -> None:
    """Import people and households from a CSV (docs/registry-import.md), showing progress."""
    from deploy.clients.registry import run

    if not key:
        raise typer.BadParameter("give --key or set SKILLBRIDGE_API_KEY", param_hint="--key")
    raise typer.Exit(run(url=url, key=key, path=file, report=report))
