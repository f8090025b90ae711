"""`outbox replay`: publish a service's retained outbox rows again, for a broker that lost
records (shared/ops_api.py does it in the service; consumers drop what they already have)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from deploy.cli.endpoints import Json, ServiceName, service_url
from deploy.cli.options import AdminKey
from deploy.cli.output import Failure, fail, print_json

outbox = typer.Typer(help="The services' transactional outboxes.", no_args_is_help=True)

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 instant (UTC if it names no zone), or a duration ago: 90s, 15m, 2h, 7d."""
    now = now or datetime.now(UTC)
    ago = _AGO.match(text.strip())
    if ago:
        return now - timedelta(**{_UNITS[ago[2]]: float(ago[1])})
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO 8601 instant nor a duration like 2h or 7d",
            param_hint="--since",
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@outbox.command("replay")
def replay(
    service: Annotated[
        list[ServiceName],
        typer.Option(
            "--service", "-s", help="the service (repeat for several)", show_default=False
        ),
    ],
    since: Annotated[
        str,
        typer.Option(help="rows staged since: an ISO 8601 instant, or a duration ago (2h, 7d)"),
    ],
    dry_run: Annotated[
        bool, typer.Option(help="count what would be replayed, replay nothing")
    ] = False,
    as_json: Json = False,
    key: AdminKey = "",
) -> None:
    """Publish the service's retained outbox rows staged since --since again. For a broker
    that lost records: consumers skip event ids they applied, so nothing is applied twice.
    Rows older than the outbox retention (7 days by default) are gone."""
    from rich.console import Console
    from rich.table import Table

    from deploy.clients.ops import OpsClient

    instant = parse_since(since)

    async def run() -> list[dict[str, object]]:
        answers = []
        for name in service:
            async with OpsClient.connect(service_url(name), key, timeout=60) as client:
                answers.append(await client.replay(instant, dry_run=dry_run))
        return answers

    try:
        answers = asyncio.run(run())
    except Failure as error:
        raise fail(error, "outbox replay") from error
    if as_json:
        print_json(answers)
        return
    table = Table(
        title=f"outbox rows since {instant.isoformat()}" + (" (dry run)" if dry_run else "")
    )
    for column in ("service", "topic", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for answer in answers:
        topics = answer.get("topics")
        for topic, n in (topics if isinstance(topics, dict) else {}).items():
            table.add_row(str(answer["service"]), topic, f"{n:,}")
    Console().print(table)
    total = sum(int(str(a["rows"])) for a in answers)
    verb = (
        "would be republished"
        if dry_run
        else "marked unsent; each service's relay republishes them"
    )
    Console().print(f"{total:,} row(s) {verb}")
