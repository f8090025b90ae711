"""The body of every service's Alembic env.py: one connection handed in by Database.migrate."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import MetaData, engine_from_config, pool

from shared.db import UtcDateTime


def run(target_metadata: MetaData) -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, target_metadata)
        return
    # Offline CLI use (alembic revision --autogenerate) with a sync URL.
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run_on(conn, target_metadata)


def _render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application code: UtcDateTime is a plain aware DateTime.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_on(connection: object, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTERs
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
