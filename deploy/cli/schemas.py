"""`schemas`: write the event contract (JSON Schemas, AsyncAPI)."""

from __future__ import annotations

from pathlib import Path

import typer


def schemas(out: Path = Path("docs/events"), asyncapi: Path = Path("docs/asyncapi.json")) -> None:
    """Write the JSON Schema of every event (the public contract) to OUT, one file per type,
    and the AsyncAPI 3 document of all topics to ASYNCAPI."""
    from shared.asyncapi import asyncapi_document
    from shared.events import write_schemas

    for path in write_schemas(out):
        typer.echo(path)
    asyncapi.write_text(asyncapi_document(), encoding="utf-8")
    typer.echo(asyncapi)
