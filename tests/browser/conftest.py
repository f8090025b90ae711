"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the five
services as separate processes on the session's broker, seeded through the APIs."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from deploy.clients.base import auth_headers
from deploy.scenarios.demo import wait_settled
from deploy.scenarios.pilot import Scenario, combined, ieat_2019_pilot, suphan_buri_beauticians
from deploy.scenarios.seed import run_journeys
from deploy.stack.launcher import Managed, Stack
from deploy.stack.topics import read_topics
from shared.events import LoanDeclined, LoanDisbursed, LoanReferralShared
from shared.topics import FUNDING, partner_topic
from tests.support import eventually, started_lender, started_stack, tansu
from tests.support.topic_funnels import Funnels, dashboard_funnels, topic_funnels

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes give them: without the networking flags Chromium keeps dialling out
# through a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "var" / "test-output"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if shutil.which("chromium") is None or not CHROMIUM.is_file():
        pytest.skip(
            f"Debian's Chromium is not installed at {CHROMIUM} and `make test` could not "
            "install it (apt-get install chromium): the browser tests are skipped"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of these tests' own: the partner topics and consumer groups they fill are
    not the session broker's, which the end-to-end tests read whole."""
    yield from tansu(tmp_path_factory.mktemp("browser-broker"))


@pytest.fixture(scope="module")
def stack(
    chromium: Path, tmp_path_factory: pytest.TempPathFactory, own_broker: str
) -> Iterator[Stack]:
    with started_stack(
        tmp_path_factory.mktemp("browser"), own_broker, {}, prefix="sb_browser"
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def lender(stack: Stack) -> Iterator[Managed]:
    """GSB's loan system answers its referrals, so the funnel reaches disbursed."""
    with started_lender(stack, "gsb") as process:
        yield process


@dataclass
class Seeded:
    programmes: list[Scenario]
    read_key: str

    @property
    def codes(self) -> list[str]:
        return [p.programme_code for p in self.programmes]


async def _lender_done(stack: Stack) -> bool:
    """Every referral shared with GSB has its final answer (declined, or paid out)."""
    records = await read_topics(stack.bootstrap, [FUNDING, partner_topic("gsb")])
    shared = {
        str(r.data["referral_id"]) for r in records if r.ce_type == LoanReferralShared.ce_type()
    }
    final = {
        str(r.data["referral_id"])
        for r in records
        if r.ce_type in (LoanDeclined.ce_type(), LoanDisbursed.ce_type())
    }
    return shared <= final


@pytest.fixture(scope="module")
async def seeded(stack: Stack, lender: Managed) -> Seeded:
    """Two programmes (a small IEAT pilot and the Suphan Buri model) seeded through the APIs;
    returns once the journeys settled and the dashboard shows what the topics carry."""
    programmes = [ieat_2019_pilot(size=40), suphan_buri_beauticians(size=15)]
    for programme in programmes:
        await run_journeys(
            stack.urls(), programme, api_key=stack.admin_key, progress=lambda _: None
        )
    await wait_settled(stack, combined(programmes), timeout=120)
    await eventually(
        lambda: _lender_done(stack), bool, timeout=60, what="GSB answering every referral"
    )
    async with httpx.AsyncClient(timeout=10, headers=auth_headers(stack.admin_key)) as client:
        created = await client.post(
            f"{stack.url('dashboard')}/api-keys", json={"name": "browser-test", "role": "read"}
        )
        assert created.status_code == 201, created.text
    key = str(created.json()["token"])
    # The dashboard's consumer runs behind the topics: wait until it has caught up.
    await eventually(
        lambda: _both(stack, key),
        lambda both: both[0] == both[1],
        timeout=60,
        what="the dashboard's funnels (2nd) equal to the topics' (1st)",
    )
    return Seeded(programmes, key)


async def _both(stack: Stack, key: str) -> tuple[Funnels, Funnels]:
    return await topic_funnels(stack), await dashboard_funnels(stack, key)


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
def output() -> Path:
    """Where screenshots go with the test output."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
