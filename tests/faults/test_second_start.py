"""`skillbridge up` twice on the same data: every service comes up again, the operator's admin key
keeps working, and a new key given by the operator replaces the old one.

Each start runs the launcher's Stack as `make up` does: a new embedded broker and the four
services as processes, on free ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from deploy.stack.databases import create_databases, drop_databases
from deploy.stack.launcher import SERVICES, Stack, free_port
from shared.auth import BOOTSTRAP_ADMIN, new_token
from tests.support import POSTGRES


def stack(data_dir: Path, database_urls: dict[str, str]) -> Stack:
    made = Stack(data_dir=data_dir, database_urls=database_urls)
    made.kafka_port = free_port()
    made.ports = {service: free_port() for service in SERVICES}
    return made


def statuses(stack: Stack, key: str) -> dict[str, int]:
    """What each service answers an admin-only read made with `key`."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=10, headers=headers) as client:
        return {s: client.get(f"{stack.url(s)}/api-keys").status_code for s in SERVICES}


def run(started: Stack, check: Callable[[], None]) -> None:
    """Start the stack, check it while it runs, stop it whatever happened."""
    try:
        started.start(timeout=90)
        check()
    finally:
        started.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_second_start_on_the_same_data(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database == "postgresql" and not POSTGRES:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 not reachable")
    monkeypatch.delenv("SKILLBRIDGE_ADMIN_KEY", raising=False)
    urls = asyncio.run(create_databases(SERVICES, "sb_restart")) if database == "postgresql" else {}
    all_ok = dict.fromkeys(SERVICES, 200)
    try:
        first = stack(tmp_path, urls)
        key = first.admin_key
        run(first, lambda: assert_statuses(first, key, all_ok))
        assert first.admin_key_file.read_text().strip() == key

        second = stack(tmp_path, urls)
        assert second.admin_key == key  # taken from <data_dir>/admin.key

        def same_key_and_no_revoking() -> None:
            assert_statuses(second, key, all_ok)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(timeout=10, headers=headers) as client:
                for service in SERVICES:
                    listed = client.get(f"{second.url(service)}/api-keys").json()
                    [row] = [k for k in listed if k["name"] == BOOTSTRAP_ADMIN]
                    refused = client.delete(f"{second.url(service)}/api-keys/{row['key_id']}")
                    assert refused.status_code == 409, (service, refused.text)
            assert_statuses(second, key, all_ok)  # still works

        run(second, same_key_and_no_revoking)

        rotated = new_token()
        monkeypatch.setenv("SKILLBRIDGE_ADMIN_KEY", rotated)
        third = stack(tmp_path, urls)
        assert third.admin_key == rotated

        def new_key_only() -> None:
            assert third.admin_key_file.read_text().strip() == rotated
            assert_statuses(third, rotated, all_ok)
            assert_statuses(third, key, dict.fromkeys(SERVICES, 401))

        run(third, new_key_only)
    finally:
        if urls:
            asyncio.run(drop_databases(urls.values()))


def assert_statuses(stack: Stack, key: str, want: dict[str, int]) -> None:
    assert statuses(stack, key) == want
