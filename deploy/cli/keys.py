"""`keys create|list|revoke`: the operator API keys of each service (its `/api-keys`), and
`partners keys create|list|revoke`: a lender's partner keys (funding's `/lenders/{code}/keys`).
Tokens are shown once, when created; the services keep only their hashes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal, TypeVar

import typer

from deploy.cli.endpoints import Json, ServiceName, ServiceOption, service_url
from deploy.cli.options import AdminKey
from deploy.cli.output import Failure, fail, print_json
from deploy.clients.base import Json as Body

keys = typer.Typer(
    help="Operator API keys (read, write, admin), per service.", no_args_is_help=True
)
partners = typer.Typer(help="Lenders' access: their partner API keys.", no_args_is_help=True)
partner_keys = typer.Typer(help="A lender's keys for funding's partner API.", no_args_is_help=True)
partners.add_typer(partner_keys, name="keys")

T = TypeVar("T")
Role = Literal["read", "write", "admin"]
KeyName = Annotated[
    str, typer.Option("--name", help="who or what uses it (lower case, digits, . _ -)")
]


def _call(what: str, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(call())
    except Failure as error:
        raise fail(error, what) from error


def _show(rows: Sequence[Body], as_json: bool, title: str) -> None:
    if as_json:
        print_json(list(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns = [
        c
        for c in ("key_id", "name", "lender_code", "role", "created_at", "revoked_at", "token")
        if any(c in r for r in rows)
    ]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def _created(row: Body, as_json: bool, title: str) -> None:
    _show([row], as_json, title)
    if not as_json:
        typer.echo("the token is shown this once; only its hash is kept", err=True)


@keys.command("create")
def create(
    key: AdminKey,
    service: ServiceOption,
    role: Annotated[str, typer.Option(help="read, write or admin")],
    name: KeyName,
    as_json: Json = False,
) -> None:
    """A new key of the role on the service; its token is printed once."""
    from deploy.clients.ops import OpsClient

    if role not in ("read", "write", "admin"):
        raise typer.BadParameter("one of read, write, admin", param_hint="--role")

    async def call() -> Body:
        async with OpsClient.connect(service_url(service), key, timeout=30) as client:
            return await client.create_key(name, role)

    _created(_call("keys create", call), as_json, f"new {role} key on {service.value}")


@keys.command("list")
def list_keys(
    key: AdminKey,
    service: ServiceOption,
    role: Annotated[str | None, typer.Option(help="only keys of this role")] = None,
    revoked: Annotated[bool, typer.Option(help="include revoked keys")] = True,
    as_json: Json = False,
) -> None:
    """The service's keys (never their tokens)."""
    from deploy.clients.ops import OpsClient

    async def call() -> list[Body]:
        async with OpsClient.connect(service_url(service), key, timeout=30) as client:
            return await client.keys()

    rows = [
        r
        for r in _call("keys list", call)
        if (role is None or r.get("role") == role) and (revoked or r.get("revoked_at") is None)
    ]
    _show(rows, as_json, f"keys on {service.value}")


@keys.command("revoke")
def revoke(
    key: AdminKey,
    service: ServiceOption,
    key_id: Annotated[str, typer.Argument(help="the key's key_id (from `keys list`)")],
    as_json: Json = False,
) -> None:
    """Revoke a key: it stops working at once."""
    from deploy.clients.ops import OpsClient

    async def call() -> Body:
        async with OpsClient.connect(service_url(service), key, timeout=30) as client:
            return await client.revoke_key(key_id)

    _show([_call("keys revoke", call)], as_json, f"revoked on {service.value}")


Lender = Annotated[str, typer.Argument(help="the lender's code, e.g. gsb")]


def _funding(key: str) -> Any:
    from deploy.clients.funding import FundingClient

    return FundingClient.connect(service_url(ServiceName.funding), key, timeout=30)


@partner_keys.command("create")
def partner_create(
    key: AdminKey,
    lender: Lender,
    name: KeyName = "loan-system",
    as_json: Json = False,
) -> None:
    """A key for the lender's own systems (its referrals, decisions, payouts); the token is
    printed once."""

    async def call() -> Body:
        async with _funding(key) as funding:
            row: Body = await funding.partner_key(lender, name)
            return row

    _created(_call("partners keys create", call), as_json, f"new partner key for {lender}")


@partner_keys.command("list")
def partner_list(key: AdminKey, lender: Lender, as_json: Json = False) -> None:
    """The lender's partner keys (never their tokens)."""

    async def call() -> list[Body]:
        async with _funding(key) as funding:
            rows: list[Body] = await funding.partner_keys(lender)
            return rows

    _show(_call("partners keys list", call), as_json, f"partner keys of {lender}")


@partner_keys.command("revoke")
def partner_revoke(
    key: AdminKey,
    lender: Lender,
    key_id: Annotated[str, typer.Argument(help="the key's key_id")],
    as_json: Json = False,
) -> None:
    """Revoke one of the lender's keys: it stops working at once."""

    async def call() -> Body:
        async with _funding(key) as funding:
            row: Body = await funding.revoke_partner_key(lender, key_id)
            return row

    _show([_call("partners keys revoke", call)], as_json, f"revoked for {lender}")
