"""`dlq list` and `dlq redrive`: the dead-letter topics."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from deploy.cli.options import Bootstrap

dlq = typer.Typer(help="Dead-letter topics: list records, re-drive them.", no_args_is_help=True)


@dlq.command("list")
def dlq_list(bootstrap: Bootstrap = "127.0.0.1:9092") -> None:
    """Every dead-lettered record: where it came from, who failed on it and why."""
    from deploy.stack.dlq import dead_letters

    letters = asyncio.run(dead_letters(bootstrap))
    for d in letters:
        typer.echo(
            f"{d.topic}  {d.original}  {d.ce_type}  id={d.ce_id}  by {d.consumer} "
            f"at {d.failed_at}\n    {d.error_type}: {d.error[:300]}"
        )
    typer.echo(f"{len(letters)} dead-lettered record(s)")


@dlq.command("redrive")
def dlq_redrive(
    topic: Annotated[
        str, typer.Argument(help="a dead-letter topic, e.g. skillbridge.registry.v1.dlq")
    ],
    bootstrap: Bootstrap = "127.0.0.1:9092",
) -> None:
    """Publish the topic's records not re-driven yet back to their original topic."""
    from deploy.stack.dlq import redrive

    try:
        asyncio.run(redrive(bootstrap, topic, progress=typer.echo))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="TOPIC") from error
