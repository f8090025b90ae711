"""`acls apply`: the Kafka ACLs of shared/acls.py on a real Kafka."""

from __future__ import annotations

from typing import Annotated

import typer

from deploy.cli.options import Bootstrap

acls = typer.Typer(help="Kafka ACLs: each service and partner a principal.", no_args_is_help=True)


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
