"""`skillbridge demo` and `skillbridge smoke`: the pilot scenario on the whole system."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from pathlib import Path

from deploy.clients.funding import FundingClient
from deploy.clients.training import TrainingClient
from deploy.scenarios import funnel
from deploy.scenarios.pilot import (
    Scenario,
    combined,
    expected_referrals,
    funnel_expectation,
    ieat_2019_pilot,
    suphan_buri_beauticians,
)
from deploy.scenarios.seed import run_journeys
from deploy.stack import topics as topic_reader
from deploy.stack.launcher import Stack, running
from shared.events import LoanReferralShared
from shared.topics import BROADCAST_TOPICS, partner_topic


async def wait_settled(stack: Stack, scenario: Scenario, timeout: float) -> dict[str, int]:
    """Wait until funding has seen every award and made every expected referral."""
    expected = funnel_expectation(scenario)
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    async with FundingClient.connect(stack.url("funding"), stack.admin_key, timeout=10) as funding:
        while time.monotonic() < deadline:
            last = await funding.counts()
            if (
                last["qualifications"] >= expected["certified"]
                and last["referrals"] >= expected["referrals"]
            ):
                return last
            await asyncio.sleep(0.25)
    raise TimeoutError(f"journeys did not settle in {timeout:.0f}s; funding counts: {last}")


async def observe(
    stack: Stack, scenario: Scenario, timeout: float = 30
) -> tuple[list[topic_reader.Observed], dict[str, int]]:
    """Read the topics once they carry every expected referral: the funding service counts a
    referral when it commits it, its outbox relay publishes it a moment later."""
    lenders = sorted({p.lender_code for p in scenario.products})
    topics = [*BROADCAST_TOPICS, *(partner_topic(code) for code in lenders)]
    want = funnel_expectation(scenario)["referrals"]
    deadline = time.monotonic() + timeout
    while True:
        observed = await topic_reader.read_topics(stack.bootstrap, topics)
        if funnel.funnel(observed)["referrals"] >= want or time.monotonic() > deadline:
            break  # past the deadline the check below says what is missing
        await asyncio.sleep(0.25)
    # What each lender was sent: one LoanReferralShared per referral on its own topic.
    per_lender = Counter(
        o.topic.split(".")[2]
        for o in topic_reader.distinct(observed)
        if o.topic.startswith("skillbridge.partner.") and o.ce_type == LoanReferralShared.ce_type()
    )
    return observed, dict(per_lender)


async def achievement(stack: Stack, scenario: Scenario) -> dict[str, object]:
    """The training service's own figure for the programme (learners it saw complete)."""
    async with TrainingClient.connect(
        stack.url("training"), stack.admin_key, timeout=10
    ) as training:
        return await training.achievement(scenario.programme_code)


def check(
    scenario: Scenario,
    by_id: dict[str, str],
    observed: list[topic_reader.Observed],
    reported: list[dict[str, object]],
) -> list[str]:
    """What differs from the hand-computable expectation (empty: all journeys as expected)."""
    problems = []
    counts = funnel.funnel(observed)
    for stage, want in funnel_expectation(scenario).items():
        if counts.get(stage) != want:
            problems.append(f"{stage}: expected {want}, observed {counts.get(stage)}")
    completed = sum(int(str(r["completed"])) for r in reported)
    if completed != counts.get("completed"):
        problems.append(
            f"training reports {completed} completed, the broker carried "
            f"{counts.get('completed')} TrainingCompleted"
        )
    want_refs = {(by_id[nid], product) for nid, product in expected_referrals(scenario)}
    got_refs = funnel.referrals(observed)
    if missing := want_refs - got_refs:
        problems.append(f"{len(missing)} expected referrals missing, e.g. {sorted(missing)[:3]}")
    if extra := got_refs - want_refs:
        problems.append(f"{len(extra)} unexpected referrals, e.g. {sorted(extra)[:3]}")
    return problems


def run(*, smoke: bool, size: int, data_dir: Path, timeout: float, free_ports: bool = False) -> int:
    shutil.rmtree(
        data_dir, ignore_errors=True
    )  # the embedded broker starts empty, so must the data
    # The IEAT 2019 pilot and the Suphan Buri model (beauticians financed by GSB), side by side.
    programmes = [ieat_2019_pilot(size=size), suphan_buri_beauticians()]
    scenario = combined(programmes)
    stack = Stack(data_dir=data_dir)
    if free_ports:  # a check should not collide with a demo someone left running
        stack.use_free_ports()
    started = time.monotonic()
    print(f"starting broker ({stack.bootstrap}) and services; logs in {data_dir / 'logs'}")
    with running(stack):
        print(f"ready in {time.monotonic() - started:.1f}s")
        by_id: dict[str, str] = {}
        for programme in programmes:
            print(
                f"seeding {programme.programme_name} (owner {programme.owner.code}): "
                f"{len(programme.trainees):,} trainees; products "
                + ", ".join(p.product_code for p in programme.products)
            )
            by_id |= asyncio.run(run_journeys(stack.urls(), programme, api_key=stack.admin_key))
        asyncio.run(wait_settled(stack, scenario, timeout))
        observed, per_lender = asyncio.run(observe(stack, scenario))
        print(funnel.render(funnel.funnel(observed), scenario.target, per_lender))
        reported = [asyncio.run(achievement(stack, programme)) for programme in programmes]
        for programme, figures in zip(programmes, reported, strict=True):
            print(
                f"training service: {figures['completed']:,} of {figures['target']:,} completed "
                f"= {figures['percent']}% (GET /programmes/{programme.programme_code}/achievement)"
            )
        print(f"journeys settled {time.monotonic() - started:.1f}s after start")
        print("\nservices:")
        for service, url in stack.urls().items():
            print(f"  {service:<14} {url}/docs")
        print(
            f"  broker         {stack.bootstrap} (e.g. skillbridge kcat -C -b {stack.bootstrap} "
            f"-t {partner_topic('gsb')} -J -e)"
        )
        print(f"  admin key      in {stack.admin_key_file} (Authorization: Bearer <key>)")
        print(f"\ndashboard: {stack.url('dashboard')}/ (sign in with a read key, or the admin key)")
        if smoke:
            problems = check(scenario, by_id, observed, reported)
            if problems:
                print("\nSMOKE FAILED:\n  " + "\n  ".join(problems))
                return 1
            print("\nsmoke: every seeded journey reached its expected end state")
            return 0
        print("\nrunning; press Ctrl-C to stop")
        try:
            while all(m.running for m in stack.services.values()):
                time.sleep(1)
            print("a service exited; stopping")
            return 1
        except KeyboardInterrupt:
            print("\nstopping")
            return 0
