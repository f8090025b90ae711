"""`dashboard rebuild`: drop the dashboard's read model and replay the topics into it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from deploy.cli.options import AdminKey, DashboardUrl

if TYPE_CHECKING:
    from rich.console import Console

    from deploy.clients.dashboard import RebuildStatus

dashboard = typer.Typer(help="The dashboard's read model.", no_args_is_help=True)


def report(console: Console, status: RebuildStatus, seconds: float, differ: list[str]) -> int:
    """The closing lines; 0 when the rebuild is done and every figure is as it was."""
    if status.state != "done":
        console.print(f"[red]rebuild {status.state}[/]: {status.error or 'no reason given'}")
        return 1
    seconds = status.seconds if status.seconds is not None else seconds
    rate = status.events_per_second
    if rate is None:
        rate = status.read / seconds if seconds > 0 else 0.0
    console.print(f"rebuilt from {status.read:,} events in {seconds:,.1f} s ({rate:,.0f} events/s)")
    if differ:
        console.print(
            "[red]the figures differ[/] from those before the rebuild: " + ", ".join(differ)
        )
        return 1
    console.print("the figures are the same as before the rebuild")
    return 0


async def _rebuild(url: str, key: str, timeout: float, console: Console) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from deploy.clients.dashboard import DashboardClient, differing

    async with DashboardClient.connect(url, key, timeout=30) as client:
        before = await client.figures()
        started = time.monotonic()
        await client.start_rebuild()
        columns = (
            TextColumn("replaying the topics"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("rebuild", total=None)

            def show(status: RebuildStatus) -> None:
                # The total is known once the service has asked the broker for the topics' ends.
                progress.update(task, completed=status.read, total=status.total or None)

            status = await client.follow_rebuild(show, timeout=timeout)
        seconds = time.monotonic() - started
        after = await client.figures() if status.state == "done" else before
    return report(console, status, seconds, differing(before, after))


@dashboard.command("rebuild")
def rebuild(
    url: DashboardUrl = "http://127.0.0.1:8005",
    key: AdminKey = "",
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait for the rebuild to finish")
    ] = 3600,
) -> None:
    """Drop the read model and replay every topic it consumes from the beginning, with a
    progress bar; then compare the figures with those before. Exits 1 if the rebuild failed
    or a figure changed."""
    import anyio
    import httpx
    from rich.console import Console

    from deploy.clients.base import ApiError

    if not key:
        raise typer.BadParameter(
            "give --key or set SKILLBRIDGE_API_KEY (the demo's admin key: var/demo/admin.key)",
            param_hint="--key",
        )
    console = Console()
    try:
        code = anyio.run(_rebuild, url, key, timeout, console)
    except (ApiError, httpx.HTTPError) as error:
        console.print(f"[red]rebuild failed[/]: {error}")
        raise typer.Exit(1) from error
    raise typer.Exit(code)
