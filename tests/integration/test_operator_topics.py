"""`skillbridge topics create|describe` on the real (embedded) broker, and `skillbridge
migrate` on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from deploy.cli import app
from shared.topics import partner_topic


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def describe(bootstrap: str, partner: str) -> tuple[int, Any]:
    code, out = run("topics", "describe", "--bootstrap", bootstrap, "--partner", partner, "--json")
    return code, json.loads(out)


def test_topics_create_makes_the_table_and_describe_agrees(bootstrap: str) -> None:
    partner = "ops-test-lender"
    code, before = describe(bootstrap, partner)
    missing = [t["name"] for t in before["topics"] if t["differences"] == ["missing"]]
    assert code == 1 and partner_topic(partner) in missing

    code, out = run("topics", "create", "--bootstrap", bootstrap, "--partner", partner)
    assert code == 0, out
    assert f"created  {partner_topic(partner)}" in out

    code, after = describe(bootstrap, partner)
    assert after["brokers"] == 1
    made = {t["name"]: t for t in after["topics"]}
    partner_row = made[partner_topic(partner)]
    assert partner_row["differences"] == [], partner_row
    assert partner_row["broker"]["retention_ms"] == 30 * 24 * 3600 * 1000
    assert partner_row["broker"]["replication_factor"] == 1  # one broker: 3 lowered to 1
    # Topics the services made before (without the table's configs) may differ; none missing.
    assert all(t["differences"] != ["missing"] for t in after["topics"])

    code, again = run("topics", "create", "--bootstrap", bootstrap, "--partner", partner)
    assert code == 0 and "0 topic(s) created" in again


def test_migrate_downgrades_upgrades_and_reports_the_revision(tmp_path: Path) -> None:
    env = {"REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"}
    code, out = run("migrate", "--service", "registry", "current", "--json", env=env)
    assert code == 1 and json.loads(out)["current"] == []  # empty: not at head

    code, out = run("migrate", "-s", "registry", "upgrade", "--json", env=env)
    upgraded = json.loads(out)
    assert code == 0 and upgraded["at_head"] and upgraded["current"] == upgraded["head"]

    code, out = run("migrate", "-s", "registry", "downgrade", "--json", env=env)
    down = json.loads(out)
    assert code == 0 and down["current"] and down["current"] != down["head"]

    code, out = run("migrate", "-s", "registry", "current", "--json", env=env)
    assert code == 1 and json.loads(out)["current"] == down["current"]
    code, _ = run("migrate", "-s", "registry", "upgrade", env=env)
    code, out = run("migrate", "-s", "registry", "current", "--json", env=env)
    assert code == 0 and json.loads(out)["at_head"]
