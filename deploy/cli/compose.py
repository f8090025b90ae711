"""`compose init`: the secrets deploy/compose/compose.yaml needs, written once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.stack.compose_env import COMPOSE_DIR

compose = typer.Typer(help="Run SkillBridge with docker compose.", no_args_is_help=True)


@compose.command("init")
def compose_init(
    directory: Annotated[
        Path, typer.Option("--dir", file_okay=False, help="where compose.yaml is")
    ] = COMPOSE_DIR,
    partner: Annotated[
        list[str] | None,
        typer.Option(help="a lender code (repeat); default: the lenders funding seeds"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="replace existing files (new keys: old ones stop working)")
    ] = False,
) -> None:
    """Write fresh secrets for compose: the operator's admin key, the PostgreSQL and Kafka
    (SCRAM) passwords and the event-signing keys, into `.env` and `env/<service>.env` beside
    compose.yaml, readable by you only. Then `docker compose up`."""
    from rich.console import Console
    from rich.table import Table

    from deploy.stack.acls import seeded_partners
    from deploy.stack.compose_env import env_files, write
    from deploy.stack.launcher import SERVICES

    codes = seeded_partners() if partner is None else partner
    try:
        files = env_files(directory, SERVICES, codes)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--partner") from error
    console = Console()
    existing = [f.path for f in files if f.path.exists()]
    if existing and not force:
        for path in existing:
            console.print(f"[red]exists:[/red] {path}")
        console.print(
            "Refusing to replace them: the data volumes were set up with these passwords. "
            "Use --force for new ones (and `docker compose down -v` to start over)."
        )
        raise typer.Exit(1)
    view = Table("file (0600)", "holds")
    for file in files:
        write(file)
        view.add_row(str(file.path), ", ".join(file.values))
    console.print(view)
    console.print(
        f"Next: docker compose -f {directory / 'compose.yaml'} up --build -d\n"
        f"The admin key is SKILLBRIDGE_ADMIN_KEY in {directory / '.env'} "
        "(Authorization: Bearer <key>)."
    )
