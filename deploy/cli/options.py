"""Options more than one command group takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Where `skillbridge up` and `make demo` keep the stack's bootstrap admin key.
KEPT_KEYS = (Path("var/up/admin.key"), Path("var/demo/admin.key"))


def stack_key(given: str) -> str:
    """The key given, else the admin key of the stack `up` or `demo` runs here."""
    if given:
        return given
    for path in KEPT_KEYS:
        if path.is_file() and (kept := path.read_text(encoding="utf-8").strip()):
            return kept
    raise typer.BadParameter(
        "give --key or set SKILLBRIDGE_API_KEY (no admin key in "
        + " or ".join(str(p) for p in KEPT_KEYS)
        + ")",
        param_hint="--key",
    )


Bootstrap = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker")]
# An operator key for the services' HTTP APIs (`Authorization: Bearer`); without one, the
# bootstrap admin key of the stack `skillbridge up` (or `make demo`) runs on this machine.
AdminKey = Annotated[
    str,
    typer.Option(
        "--key",
        envvar=["SKILLBRIDGE_API_KEY", "SKILLBRIDGE_ADMIN_KEY"],
        help="an API key (default: the admin key in var/up/admin.key or var/demo/admin.key)",
        show_default=False,
        callback=stack_key,
    ),
]
DashboardUrl = Annotated[
    str, typer.Option("--url", envvar="SKILLBRIDGE_DASHBOARD_URL", help="the dashboard service")
]
