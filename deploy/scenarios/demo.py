"""`skillbridge demo` and `skillbridge smoke`: three programmes on the whole system (the IEAT
2019 pilot, the Suphan Buri model and CDD Sammachiv in Muang Sam Sip), then the lenders
decide on their referrals and households whose income rose after training record it."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from deploy.clients.funding import FundingClient
from deploy.clients.training import TrainingClient
from deploy.scenarios import funnel, lenders, pii
from deploy.scenarios.cdd import cdd_sammachiv
from deploy.scenarios.observability import metrics_problems
from deploy.scenarios.pilot import (
    Scenario,
    combined,
    expected_referrals,
    funnel_expectation,
    ieat_2019_pilot,
    suphan_buri_beauticians,
)
from deploy.scenarios.seed import cohort_of, record_incomes_after, run_journeys
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
    stack: Stack,
    scenario: Scenario,
    want: Mapping[str, int] | None = None,
    timeout: float = 30,
) -> tuple[list[topic_reader.Observed], dict[str, int]]:
    """Read the topics once they carry every expected referral (and what `want` adds: funnel
    stage -> count): the funding service counts a referral when it commits it, its outbox
    relay publishes it a moment later."""
    want = want or {"referrals": funnel_expectation(scenario)["referrals"]}
    codes = sorted({p.lender_code for p in scenario.products})
    topics = [*BROADCAST_TOPICS, *(partner_topic(code) for code in codes)]
    deadline = time.monotonic() + timeout
    while True:
        observed = await topic_reader.read_topics(stack.bootstrap, topics)
        counts = funnel.funnel(observed)
        if all(counts[stage] >= n for stage, n in want.items()) or time.monotonic() > deadline:
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


async def after_referrals(
    stack: Stack,
    scenario: Scenario,
    by_id: dict[str, str],
    decided: Mapping[tuple[str, str], lenders.Decision],
) -> tuple[Counter[str], int]:
    """The lenders decide while households record what they earn after training (run once
    funding has made its referrals on the incomes before): independent, so side by side."""
    return await asyncio.gather(
        lenders.decide_all(stack.url("funding"), stack.admin_key, by_id, decided),
        record_incomes_after(stack.urls(), scenario, by_id, api_key=stack.admin_key),
    )


def want_stages(
    scenario: Scenario, decided: Mapping[tuple[str, str], lenders.Decision]
) -> dict[str, int]:
    """The counts the topics must reach before they are read for the funnel."""
    return {"referrals": funnel_expectation(scenario)["referrals"]} | decision_counts(decided)


def decision_counts(decided: Mapping[tuple[str, str], lenders.Decision]) -> dict[str, int]:
    """The funnel's lender stages the decisions should produce on the funding topic."""
    chosen = list(decided.values())
    return {
        "acknowledged": len(chosen),
        "approved": sum(d.approved for d in chosen),
        "declined": sum(not d.approved for d in chosen),
        "disbursed": sum(d.disbursed for d in chosen),
    }


# Application statuses that hold (or held, once the cohort closed) a seat.
SEATED = ("enrolled", "completed", "not_completed")


async def seats(stack: Stack, scenario: Scenario) -> str:
    """One line on how a capped programme's seats went, as training counts them."""
    async with TrainingClient.connect(stack.url("training"), stack.admin_key, timeout=10) as tc:
        cohorts = await tc.cohorts(scenario.programme_code)
    waiting = [c for c in cohorts if c["counts"].get("waitlisted")]
    waitlisted = sum(c["counts"]["waitlisted"] for c in waiting)
    seated = sum(c["counts"].get(status, 0) for c in cohorts for status in SEATED)
    return (
        f"  seats: {seated} households in {len(cohorts)} villages (at most "
        f"{scenario.village_cap} a village, lowest income first); {waitlisted} waitlisted "
        f"in {len(waiting)} villages"
    )


async def selection_problems(stack: Stack, scenario: Scenario, by_id: dict[str, str]) -> list[str]:
    """Whom training seated in each capped cohort, against the lowest-income-first choice
    the scenario computed by hand."""
    if scenario.village_cap is None:
        return []
    cohorts: dict[str, set[str]] = {}
    for trainee in scenario.trainees:
        want = cohorts.setdefault(cohort_of(scenario, trainee), set())
        if trainee.enrolled:
            want.add(by_id[trainee.national_id])
    out = []
    async with TrainingClient.connect(stack.url("training"), stack.admin_key, timeout=10) as tc:
        for code, want in cohorts.items():
            rows = await tc.applications(code)
            seated = {r["person_id"] for r in rows if r["status"] in SEATED}
            if seated != want:
                out.append(
                    f"cohort {code}: {len(want - seated)} expected seats not given, "
                    f"{len(seated - want)} given unexpectedly"
                )
    return out


def check(
    scenario: Scenario,
    by_id: dict[str, str],
    observed: list[topic_reader.Observed],
    reported: list[dict[str, object]],
    decided: Mapping[tuple[str, str], lenders.Decision] | None = None,
) -> list[str]:
    """What differs from the hand-computable expectation (empty: all journeys as expected)."""
    problems = []
    counts = funnel.funnel(observed)
    expected = funnel_expectation(scenario)
    if decided is not None:
        expected |= decision_counts(decided)
    for stage, want in expected.items():
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
    # The IEAT 2019 pilot, the Suphan Buri model (beauticians financed by GSB) and CDD
    # Sammachiv (13 villages, lowest-income households first), side by side.
    programmes = [ieat_2019_pilot(size=size), suphan_buri_beauticians(), cdd_sammachiv()]
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
            if programme.village_cap is not None:
                print(asyncio.run(seats(stack, programme)))
        asyncio.run(wait_settled(stack, scenario, timeout))
        decided = lenders.expected_decisions(scenario)
        step = time.monotonic()
        outcomes, risen = asyncio.run(after_referrals(stack, scenario, by_id, decided))
        approved = outcomes["approved"] + outcomes["disbursed"]
        print(
            f"lenders acted on {sum(outcomes.values()):,} referrals (partner API): declined "
            f"{outcomes['declined']:,}, approved {approved:,} ({outcomes['disbursed']:,} of "
            f"them disbursed); {risen} households recorded a higher income after training "
            f"({time.monotonic() - step:.1f}s)"
        )
        observed, per_lender = asyncio.run(observe(stack, scenario, want_stages(scenario, decided)))
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
            problems = check(scenario, by_id, observed, reported, decided)
            problems += asyncio.run(
                lenders.problems(stack.url("funding"), stack.admin_key, by_id, decided)
            )
            for programme in programmes:
                problems += asyncio.run(selection_problems(stack, programme, by_id))
            problems += asyncio.run(metrics_problems(stack.urls()))
            problems += pii.broadcast_leaks(observed, scenario.trainees)
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
