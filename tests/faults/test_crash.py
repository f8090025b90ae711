"""SIGKILL a service in the middle of the journey: the final referrals are exactly as without it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

from deploy.clients.funding import FundingClient, sent
from deploy.scenarios.funnel import referrals
from deploy.scenarios.pilot import expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import run_journeys
from deploy.stack.databases import drop_databases
from deploy.stack.topics import read_topics
from shared.topics import FUNDING
from tests.support import POSTGRES, eventually, make_stack


async def _counts(url: str, key: str) -> dict[str, int]:
    # Certification's and funding's counts both need an operator key.
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        return dict((await client.get(f"{url}/counts")).json())


@pytest.mark.parametrize("victim", ["funding", "certification"])
async def test_sigkill_mid_journey_changes_nothing(
    victim: str, tmp_path: Path, bootstrap: str
) -> None:
    # Its own consumer groups and topics' readers: a stack of its own on the session broker,
    # isolated from other tests by fresh databases (referrals are compared per person).
    stack = await asyncio.to_thread(
        make_stack, tmp_path, bootstrap, {}, postgres=POSTGRES, prefix="sb_fault"
    )
    scenario = ieat_2019_pilot(seed=11, size=240)
    try:
        await asyncio.to_thread(stack.start, 90)
        result: dict[str, object] = {}

        def seed() -> None:
            try:
                result["ids"] = asyncio.run(
                    run_journeys(
                        stack.urls(),
                        scenario,
                        api_key=stack.admin_key,
                        concurrency=8,
                        progress=lambda _: None,
                    )
                )
            except BaseException as error:  # surfaced below
                result["error"] = error

        seeder = threading.Thread(target=seed)
        seeder.start()
        # Kill once the victim is demonstrably mid-work: some awards or referrals made.
        field = "referrals" if victim == "funding" else "certificates"
        await eventually(
            lambda: _counts(stack.url(victim), stack.admin_key),
            lambda c: c[field] >= 5,
            timeout=120,
            what=f"{victim} mid-journey",
        )
        stack.services[victim].kill()
        await asyncio.to_thread(stack.restart, victim)
        await asyncio.to_thread(seeder.join, 300)
        assert "error" not in result, result.get("error")
        by_id: dict[str, str] = result["ids"]  # type: ignore[assignment]

        want = {(by_id[nid], product) for nid, product in expected_referrals(scenario)}
        expected = funnel_expectation(scenario)
        await eventually(
            lambda: _counts(stack.url("funding"), stack.admin_key),
            lambda c: c["referrals"] >= len(want) and c["qualifications"] >= expected["certified"],
            timeout=180,
            what="journeys settled after the crash",
        )
        auth = {"Authorization": f"Bearer {stack.admin_key}"}
        async with httpx.AsyncClient(timeout=30, headers=auth) as client:
            rows = sent(await FundingClient(client, stack.url("funding")).referrals())
        made = [(r["person_id"], r["product_code"]) for r in rows]
        assert len(made) == len(set(made))  # none doubled
        assert set(made) == want  # none lost, none extra
        certified = (await _counts(stack.url("certification"), stack.admin_key))["certificates"]
        assert certified == expected["certified"]
        # What partners see: possibly a record twice (at-least-once), never a different set.
        # (Other tests share the broker: look at this scenario's people only.)
        people = set(by_id.values())

        async def on_topic() -> set[tuple[str, str]]:
            records = await read_topics(stack.bootstrap, [FUNDING])
            return {(person, product) for person, product in referrals(records) if person in people}

        assert (
            await eventually(on_topic, lambda found: found >= want, what="referrals on topic")
            == want
        )
    finally:
        stack.stop()
        if POSTGRES:
            await drop_databases(stack.database_urls.values())
