"""Options more than one command group takes."""

from __future__ import annotations

from typing import Annotated

import typer

Bootstrap = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker")]
# An operator key for the services' HTTP APIs (`Authorization: Bearer`); the stack's bootstrap
# admin key is in <data dir>/admin.key (var/demo/admin.key for `make demo`).
AdminKey = Annotated[
    str,
    typer.Option(
        "--key",
        envvar=["SKILLBRIDGE_API_KEY", "SKILLBRIDGE_ADMIN_KEY"],
        help="an API key of the admin role",
        show_default=False,
    ),
]
DashboardUrl = Annotated[
    str, typer.Option("--url", envvar="SKILLBRIDGE_DASHBOARD_URL", help="the dashboard service")
]
