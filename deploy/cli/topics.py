"""`topics create|describe`: every topic (broadcast, private, one per partner, the
dead-letter topics) with the partitions, replication, retention and min.insync.replicas of
the one table in shared/topics.py."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from deploy.cli.endpoints import Json
from deploy.cli.options import Bootstrap
from deploy.cli.output import print_json
from shared.topics import PARTITIONS, TopicSpec

topics = typer.Typer(help="Kafka topics, from the table in shared/topics.py.", no_args_is_help=True)

Partner = Annotated[
    list[str] | None,
    typer.Option(help="a lender code (repeat); default: the lenders funding seeds"),
]
Partitions = Annotated[
    int, typer.Option(envvar="KAFKA_TOPIC_PARTITIONS", min=1, help="partitions a topic")
]


def specs(partner: list[str] | None, partitions: int, brokers: int | None) -> list[TopicSpec]:
    """The table for these partners; held to what `brokers` brokers can keep, if given."""
    from deploy.stack.acls import seeded_partners
    from shared.topics import topic_specs

    try:
        table = topic_specs(seeded_partners() if partner is None else partner, partitions)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--partner") from error
    return [s.on(brokers) for s in table] if brokers else table


@topics.command("create")
def create(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    partner: Partner = None,
    partitions: Partitions = PARTITIONS,
) -> None:
    """Create every topic of the table the broker lacks; existing ones are left alone
    (`describe` shows how they differ). On a cluster of fewer than three brokers the
    replication factor and min.insync.replicas are lowered to what it can hold, and said."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from deploy.stack.topic_admin import TopicAdmin

    console = Console()

    async def run() -> list[str]:
        async with TopicAdmin(bootstrap) as admin:
            brokers = await admin.brokers()
            table = specs(partner, partitions, brokers)
            if any(s.replication_factor < 3 for s in table):
                console.print(
                    f"[yellow]{brokers} broker(s)[/]: replication factor "
                    f"{table[0].replication_factor}, min.insync.replicas "
                    f"{table[0].min_insync_replicas} (the table asks 3 and 2)"
                )
            with Progress(
                TextColumn("creating topics"), BarColumn(), MofNCompleteColumn(), console=console
            ) as bar:
                task = bar.add_task("topics", total=len(table))

                def step(name: str, made: bool) -> None:
                    bar.console.print(f"{'created' if made else 'exists '}  {name}")
                    bar.advance(task)

                return await admin.create(table, step)

    try:
        created = asyncio.run(run())
    except (RuntimeError, OSError) as error:
        console.print(f"[red]topics create failed[/]: {error}", highlight=False)
        raise typer.Exit(1) from error
    console.print(f"{len(created)} topic(s) created on {bootstrap}")


@topics.command("describe")
def describe(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    partner: Partner = None,
    partitions: Partitions = PARTITIONS,
    as_json: Json = False,
) -> None:
    """Each topic of the table beside what the broker has. Exit 1 when one is missing or
    differs from the table (held to what the cluster's brokers can keep)."""
    from rich.console import Console
    from rich.table import Table

    from deploy.stack.topic_admin import Comparison, TopicAdmin, compare

    async def run() -> tuple[int, list[Comparison]]:
        async with TopicAdmin(bootstrap) as admin:
            brokers = await admin.brokers()
            table = specs(partner, partitions, brokers)
            return brokers, compare(table, await admin.states([s.name for s in table]))

    brokers, rows = asyncio.run(run())
    wrong = [r for r in rows if r.differences]
    if as_json:
        print_json({"brokers": brokers, "topics": [r.as_json() for r in rows], "ok": not wrong})
        raise typer.Exit(1 if wrong else 0)
    view = Table(title=f"topics on {bootstrap} ({brokers} broker(s)) vs shared/topics.py")
    for column in ("topic", "kind", "partitions", "replicas", "retention", "min ISR"):
        view.add_column(column, overflow="fold")
    view.add_column("differs", overflow="fold")
    for row in rows:
        s, b = row.spec, row.state
        view.add_row(
            s.name,
            s.kind,
            _pair(s.partitions, b.partitions) if b.exists else "[red]missing[/]",
            _pair(s.replication_factor, b.replication_factor),
            _pair(_retention(s.retention_ms), _retention(b.retention_ms)),
            _pair(s.min_insync_replicas, b.min_insync_replicas),
            "[red]" + "; ".join(row.differences) + "[/]" if row.differences else "[green]no[/]",
        )
    console = Console()
    console.print(view)
    console.print(f"{len(rows) - len(wrong)} of {len(rows)} topic(s) as the table says")
    raise typer.Exit(1 if wrong else 0)


def _retention(ms: int | None) -> str | None:
    if ms is None:
        return None
    if ms < 0:
        return "forever"
    days = ms / 86_400_000
    return f"{days:g} d" if days >= 1 else f"{ms / 3_600_000:g} h"


def _pair(table: object, broker: object) -> str:
    """`table` alone when the broker agrees, else `broker (table)`; `? (table)` when the
    broker does not report it (Tansu reports no configs for topics made without any)."""
    if broker is None:
        return f"[dim]?[/] ({table})"
    if broker == table:
        return str(table)
    return f"[red]{broker}[/] ({table})"
