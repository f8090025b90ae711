"""`skillbridge`: the operator's command line (typer)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from deploy.stack.launcher import Stack, running

REVOKED_IN_BENCH = 100  # deploy.bench.verify.REVOKED (not imported: keeps --help fast)

app = typer.Typer(help="Run and inspect SkillBridge.", no_args_is_help=True)


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="SQLite files and logs")] = Path("var/up"),
    kafka_port: int = 9092,
    free_ports: Annotated[bool, typer.Option(help="broker and services on free ports")] = False,
) -> None:
    """Start the embedded broker and the four services on SQLite; Ctrl-C stops them."""
    stack = Stack(data_dir=data_dir, kafka_port=kafka_port)
    if free_ports:
        stack.use_free_ports()
    with running(stack):
        for service, url in stack.urls().items():
            typer.echo(f"{service:<14} {url}/docs")
        typer.echo(f"broker         {stack.bootstrap}")
        typer.echo(f"admin key      in {stack.admin_key_file} (Authorization: Bearer <key>)")
        typer.echo("running; press Ctrl-C to stop")
        try:
            while all(m.running for m in stack.services.values()):
                time.sleep(1)
            raise typer.Exit(1)
        except KeyboardInterrupt:
            typer.echo("stopping")


@app.command()
def demo(
    size: Annotated[int, typer.Option(min=1, help="trainees to seed")] = 1223,
    data_dir: Path = Path("var/demo"),
    timeout: Annotated[float, typer.Option(help="seconds for journeys to settle")] = 300,
) -> None:
    """Start everything, seed the IEAT 2019 pilot, print the funnel, stay up until Ctrl-C."""
    from deploy.scenarios.demo import run

    raise typer.Exit(run(smoke=False, size=size, data_dir=data_dir, timeout=timeout))


@app.command()
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


@app.command()
def schemas(out: Path = Path("docs/events"), asyncapi: Path = Path("docs/asyncapi.json")) -> None:
    """Write the JSON Schema of every event (the public contract) to OUT, one file per type,
    and the AsyncAPI 3 document of all topics to ASYNCAPI."""
    from shared.asyncapi import asyncapi_document
    from shared.events import write_schemas

    for path in write_schemas(out):
        typer.echo(path)
    asyncapi.write_text(asyncapi_document(), encoding="utf-8")
    typer.echo(asyncapi)


@app.command()
def bench(
    learners: Annotated[int, typer.Option(min=1)] = 10_000,
    data_dir: Path = Path("var/bench"),
) -> None:
    """Drive N learners through the journey on the real broker and print throughput/latency."""
    from deploy.bench.journey import run

    raise typer.Exit(run(learners=learners, data_dir=data_dir))


@app.command("import-people")
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


@app.command("bench-import")
def bench_import(
    rows: Annotated[int, typer.Option(min=100)] = 100_000,
    data_dir: Path = Path("var/bench-import"),
) -> None:
    """Import a generated CSV twice on SQLite and PostgreSQL; print rows/s and check counts."""
    from deploy.bench.imports import run

    raise typer.Exit(run(rows=rows, data_dir=data_dir))


@app.command("bench-training")
def bench_training(
    applicants: Annotated[int, typer.Option(min=1, help="people applying to one cohort")] = 10_000,
    villages: Annotated[int, typer.Option(min=1, help="their villages, 20 seats each")] = 300,
    data_dir: Path = Path("var/bench-training"),
) -> None:
    """Training at district scale: replica, applications, selection, attendance, closure."""
    from deploy.bench.training import run

    raise typer.Exit(run(applicants=applicants, villages=villages, data_dir=data_dir))


@app.command("bench-funding")
def bench_funding(
    people: Annotated[int, typer.Option(min=1, help="pilot people sent through funding")] = 5_000,
    data_dir: Path = Path("var/bench-funding"),
) -> None:
    """Funding alone: referral evaluations/s, dry run, partner API writes/s; checked."""
    from deploy.bench.funding import run

    raise typer.Exit(run(people=people, data_dir=data_dir))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def kcat(ctx: typer.Context) -> None:
    """kcat with a librdkafka that reads the embedded broker: `skillbridge kcat -C -b
    127.0.0.1:9092 -t skillbridge.partner.gsb.v1 -J -e` (Debian's own fails against Tansu)."""
    from deploy.stack.kcat import KcatUnavailable, run

    try:
        raise typer.Exit(run(ctx.args))
    except KcatUnavailable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error


dlq = typer.Typer(help="Dead-letter topics: list records, re-drive them.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
Bootstrap = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker")]


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


acls = typer.Typer(help="Kafka ACLs: each service and partner a principal.", no_args_is_help=True)
app.add_typer(acls, name="acls")


@acls.command("apply")
def acls_apply(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    partner: Annotated[
        list[str] | None,
        typer.Option(help="a lender code (repeat); default: the lenders funding seeds"),
    ] = None,
    group_prefix: Annotated[
        str, typer.Option(envvar="KAFKA_CONSUMER_GROUP_PREFIX", help="the services' groups")
    ] = "skillbridge",
    dry_run: Annotated[bool, typer.Option(help="print the table, change nothing")] = False,
) -> None:
    """Create the ACLs of shared/acls.py through the admin API, as a super user
    (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* name it). The embedded Tansu broker ignores ACLs
    (docs/decisions/0014): apply them to a real Kafka."""
    from rich.console import Console
    from rich.table import Table

    from deploy.stack.acls import admin_client, apply, table

    try:
        grants = table(partner, group_prefix)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--partner") from error
    view = Table()
    for column in ("principal", "resource", "pattern", "name", "operation", "why"):
        view.add_column(column, overflow="fold")  # never elide a topic name
    for g in grants:
        view.add_row(g.principal, g.resource, g.pattern, g.name, g.operation, g.why)
    console = Console()
    console.print(view)
    if dry_run:
        console.print(f"{len(grants)} ACL(s); dry run, nothing applied")
        return
    try:
        applied = apply(grants, admin_client(bootstrap))
    except RuntimeError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    console.print(f"{applied} ACL(s) applied on {bootstrap}")


@app.command("bench-verify")
def bench_verify(
    people: Annotated[
        int, typer.Option(min=REVOKED_IN_BENCH, help="certificates to issue")
    ] = 2_000,
    data_dir: Path = Path("var/bench-verify"),
) -> None:
    """Certification: certificates issued, credentials signed and verifications per second."""
    from deploy.bench.verify import run

    raise typer.Exit(run(people=people, data_dir=data_dir))
