"""`import-people`: upload a CSV of people and households to the registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from deploy.clients.registry import Outcome


def _run(*, url: str, key: str, path: Path, report: Path | None) -> int:
    """0 when the import finished (rejected rows included), 1 otherwise."""
    import anyio
    import httpx

    from deploy.clients.registry import ImportFailed, RegistryClient

    async def main() -> Outcome:
        timeout = httpx.Timeout(30, write=300)
        async with RegistryClient.connect(url, key, timeout=timeout) as registry:
            return await registry.import_file(path, report=report)

    try:
        outcome = anyio.run(main)
    except (ImportFailed, httpx.HTTPError) as error:
        print(f"import failed: {error}", file=sys.stderr)
        return 1
    return 0 if outcome.ok else 1


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
    if not key:
        raise typer.BadParameter("give --key or set SKILLBRIDGE_API_KEY", param_hint="--key")
    raise typer.Exit(_run(url=url, key=key, path=file, report=report))
