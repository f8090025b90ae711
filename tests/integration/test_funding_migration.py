"""A funding database of the walking skeleton (revision 0001, with data) upgrades to head:
each product's rule becomes its live version 1, referrals keep their rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

import services.funding
from shared.db import Database

MIGRATIONS = Path(services.funding.__file__).parent / "migrations"


async def _upgrade(db: Database, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, target)

    async with db.engine.begin() as conn:
        await conn.run_sync(upgrade)


async def test_skeleton_data_survives_the_upgrade(database_urls: dict[str, str]) -> None:
    db = Database(database_urls["funding"])
    try:
        await _upgrade(db, "0001")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO lender (code, name) VALUES ('gsb', 'GSB')",
                "INSERT INTO product (code, lender_code, name, occupations, min_level) "
                "VALUES ('p1', 'gsb', 'P1', '[\"mechanic\"]', 2)",
                "INSERT INTO qualification (certificate_number, person_id, occupation, level, "
                "valid_until) VALUES ('C1', 'person-1', 'mechanic', 3, '2030-01-01')",
                "INSERT INTO referral (referral_id, person_id, product_code, lender_code, "
                "certificate_number, matched_clauses, status, created_at) VALUES ('r1', "
                "'person-1', 'p1', 'gsb', 'C1', '[\"level >= 2\"]', 'created', "
                "'2026-01-01 00:00:00+00')",
            ):
                await conn.execute(text(statement))
        await db.migrate(MIGRATIONS)
        async with db.engine.begin() as conn:
            versions = (
                await conn.execute(
                    text("SELECT product_code, version, status, rules FROM rule_version")
                )
            ).all()
            referral = (
                await conn.execute(
                    text("SELECT status, is_open, occupation, level, rule_version FROM referral")
                )
            ).one()
            kind = (await conn.execute(text("SELECT kind FROM lender"))).scalar_one()
        assert [(v[0], v[1], v[2]) for v in versions] == [("p1", 1, "live")]
        rules = versions[0][3]
        assert "mechanic" in str(rules) and "min_level" in str(rules)
        assert tuple(referral) == ("created", True, "mechanic", 3, 1)
        assert kind == "lender"
    finally:
        await db.dispose()
