"""`status`: every service's health, readiness, database and outbox, and the broker's
consumer lag and dead letters, at a glance; exit 1 when something is wrong."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from deploy.cli.endpoints import Json, service_urls
from deploy.cli.options import AdminKey, Bootstrap
from deploy.cli.output import print_json

if TYPE_CHECKING:
    from rich.console import Console

    from deploy.stack.status import Status


def status(
    key: AdminKey = "",
    bootstrap: Bootstrap = "127.0.0.1:9092",
    max_lag: Annotated[
        int,
        typer.Option(
            min=0, help="a consumer group further behind than this many records fails the check"
        ),
    ] = 1000,
    as_json: Json = False,
    partitions: Annotated[
        bool, typer.Option("--partitions", help="lag per partition, not per topic")
    ] = False,
) -> None:
    """Services, consumer lag and dead letters at a glance; exit 1 when something is wrong.

    Every service's health, readiness, version, database and outbox backlog; each
    consumer group's lag; the dead-letter topics. Exit 1 when a service is not ready, its
    database is unreachable, the broker cannot be read, or a group lags by more than
    --max-lag. Any key with the read role works; the services' URLs are
    SKILLBRIDGE_<SERVICE>_URL (default: this host, `skillbridge up`'s ports)."""
    from rich.console import Console

    from deploy.stack.status import gather, verdict

    report = asyncio.run(gather(service_urls(), key, bootstrap))
    wrong = verdict(report, max_lag)
    if as_json:
        print_json({**report.as_json(), "max_lag": max_lag, "ok": not wrong, "problems": wrong})
    else:
        console = Console()
        show(console, report, partitions)
        for line in wrong:
            console.print(f"[red]✗[/] {line}", highlight=False)
        if not wrong:
            console.print(f"[green]✓[/] every service ready, lag within {max_lag}")
    raise typer.Exit(1 if wrong else 0)


def _age(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _mark(ok: bool | None) -> str:
    return {True: "[green]ok[/]", False: "[red]no[/]", None: "-"}[ok]


def show(console: Console, report: Status, partitions: bool) -> None:
    from rich.table import Table

    services = Table(title="services")
    for column in ("service", "url", "health", "ready", "version", "database", "unsent", "oldest"):
        services.add_column(column)
    services.add_column("why", overflow="fold")
    for s in report.services:
        unsent = s.stats.get("outbox_unsent")
        services.add_row(
            s.name,
            s.url,
            _mark(s.healthy),
            _mark(s.ready),
            str(s.stats.get("version", "-")),
            _mark(s.database_ok),
            "-" if unsent is None else f"{unsent:,}",
            _age(s.stats.get("outbox_oldest_unsent_age_s")),
            s.detail,
        )
    console.print(services)

    lag = Table(title="consumer lag (committed offset vs end)")
    for column in ("group", "topic", "partition", "committed", "end", "lag"):
        lag.add_column(column, justify="right" if column in ("committed", "end", "lag") else "left")
    if partitions:
        for row in report.lag:
            committed = "-" if row.committed is None else f"{row.committed:,}"
            lag.add_row(
                row.group,
                row.topic,
                str(row.partition),
                committed,
                f"{row.end:,}",
                _lagged(row.lag),
            )
    else:  # one line a topic: the partitions summed
        summed: dict[tuple[str, str], list[int]] = {}
        for row in report.lag:
            total = summed.setdefault((row.group, row.topic), [0, 0, 0])
            total[0] += row.committed or 0
            total[1] += row.end
            total[2] += row.lag
        for (group, topic), (committed_sum, end, behind) in summed.items():
            lag.add_row(group, topic, "all", f"{committed_sum:,}", f"{end:,}", _lagged(behind))
    console.print(lag)

    if report.broker_error:
        console.print(f"[red]broker unreadable[/]: {report.broker_error}", highlight=False)
        return
    dlq = Table(title="dead-letter topics")
    for column in ("topic", "records", "not re-driven"):
        dlq.add_column(column, justify="left" if column == "topic" else "right")
    for d in report.dlq:
        dlq.add_row(d.topic, f"{d.records:,}", f"[yellow]{d.pending:,}[/]" if d.pending else "0")
    console.print(dlq)


def _lagged(n: int) -> str:
    return f"[yellow]{n:,}[/]" if n else "0"
