"""`migrate`: Alembic on one service's database, outside the service (a Kubernetes Job runs
`skillbridge migrate --service S upgrade` before a rollout; services also upgrade at start)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

import typer

from deploy.cli.endpoints import Json, ServiceOption
from deploy.cli.output import print_json


class Action(StrEnum):
    upgrade = "upgrade"
    downgrade = "downgrade"
    current = "current"


def migrate(
    service: ServiceOption,
    action: Annotated[Action, typer.Argument(help="upgrade, downgrade or current")],
    revision: Annotated[
        str | None,
        typer.Option(help="target revision (default: head to upgrade, -1 to downgrade)"),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="default: the service's own setting, <SERVICE>_DATABASE_URL",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Upgrade or downgrade a service's schema, or show its revision against the head.

    The database is the service's own setting (<SERVICE>_DATABASE_URL); `current`
    exits 1 when the database is not at the head."""
    from rich.console import Console

    from deploy.stack.migrations import revisions, run, settings_of

    database = url or settings_of(service.value).database_url
    console = Console(stderr=as_json)
    try:
        if action is not Action.current:
            target = revision or ("head" if action is Action.upgrade else "-1")
            before = asyncio.run(revisions(service.value, database))
            with console.status(f"{action.value} {service.value} to {target}"):
                asyncio.run(run(service.value, database, action.value, target))
        now = asyncio.run(revisions(service.value, database))
    except Exception as error:  # the database's own error says most
        console.print(f"[red]migrate {action.value} failed[/]: {error}", highlight=False)
        raise typer.Exit(1) from error
    if as_json:
        print_json(
            {
                "service": now.service,
                "database": now.database,
                "current": now.current,
                "head": now.head,
                "at_head": now.at_head,
            }
        )
    else:
        if action is not Action.current:
            console.print(f"{service.value}: {_revs(before.current)} → {_revs(now.current)}")
        mark = "[green]at head[/]" if now.at_head else f"[yellow]head is {_revs(now.head)}[/]"
        console.print(f"{now.service} on {now.database}: {_revs(now.current)} ({mark})")
    if action is Action.current and not now.at_head:
        raise typer.Exit(1)


def _revs(revisions: list[str]) -> str:
    return ", ".join(revisions) or "empty (no revision)"
