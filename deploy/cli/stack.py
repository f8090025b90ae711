"""Stack commands: `up`, `demo` and `smoke`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from deploy.stack.launcher import SERVICES, Stack, running


def external_databases() -> dict[str, str]:
    """Each service's <SERVICE>_DATABASE_URL where set (the others stay on SQLite)."""
    return {
        service: url
        for service in SERVICES
        if (url := os.environ.get(f"{service.upper()}_DATABASE_URL"))
    }


def up(
    data_dir: Annotated[Path, typer.Option(help="SQLite files and logs")] = Path("var/up"),
    kafka_port: int = 9092,
    free_ports: Annotated[bool, typer.Option(help="broker and services on free ports")] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            envvar="KAFKA_BOOTSTRAP_SERVERS",
            help="an external broker (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* "
            "apply); default: start the embedded one",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the broker and the five services; Ctrl-C stops them.

    The embedded broker and SQLite unless told otherwise: KAFKA_BOOTSTRAP_SERVERS
    names an external broker, <SERVICE>_DATABASE_URL (e.g.
    REGISTRY_DATABASE_URL) a service's database."""
    stack = Stack(
        data_dir=data_dir,
        kafka_port=kafka_port,
        external_bootstrap=bootstrap or None,
        database_urls=external_databases(),
    )
    if free_ports:
        stack.use_free_ports()
    from deploy.stack.migrations import safe_url

    with running(stack):
        for service, url in stack.urls().items():
            typer.echo(f"{service:<14} {url}/docs")
        typer.echo(f"broker         {stack.bootstrap}{'' if bootstrap else ' (embedded)'}")
        for service in stack.ports:
            typer.echo(f"{service + ' db':<14} {safe_url(stack.database_url(service))}")
        typer.echo(f"admin key      in {stack.admin_key_file} (Authorization: Bearer <key>)")
        typer.echo("running; press Ctrl-C to stop")
        try:
            while all(m.running for m in stack.services.values()):
                time.sleep(1)
            raise typer.Exit(1)
        except KeyboardInterrupt:
            typer.echo("stopping")


def demo(
    size: Annotated[int, typer.Option(min=1, help="trainees to seed")] = 1223,
    data_dir: Path = Path("var/demo"),
    timeout: Annotated[float, typer.Option(help="seconds for journeys to settle")] = 300,
) -> None:
    """Start everything, seed the IEAT 2019 pilot, print the funnel, stay up until Ctrl-C."""
    from deploy.scenarios.demo import run

    raise typer.Exit(run(smoke=False, size=size, data_dir=data_dir, timeout=timeout))


def smoke(
    size: Annotated[int, typer.Option(min=1)] = 1223,
    data_dir: Path = Path("var/smoke"),
    timeout: Annotated[float, typer.Option(help="seconds for journeys to settle")] = 300,
    free_ports: Annotated[bool, typer.Option(help="broker and services on free ports")] = True,
) -> None:
    """The demo, exiting 0 once every seeded journey reached its expected end state."""
    from deploy.scenarios.demo import run

    raise typer.Exit(
        run(smoke=True, size=size, data_dir=data_dir, timeout=timeout, free_ports=free_ports)
    )
