"""The dashboard's read model and figures from events handed to its handlers: one
journey end to end, any order of arrival, erasure and merges."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard import figures
from services.dashboard.consumers import HANDLERS
from services.dashboard.handlers.subjects import digest
from services.dashboard.live import Changes
from services.dashboard.schemas import Figures, Filters
from services.dashboard.tables import READ_MODEL, Redirect
from shared import events as ev
from shared.db import Database

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=60)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def journey(person: str, household: str, *, approve: bool, village: str = "3401") -> list[ev.Event]:
    """One learner's events, trained in March, referred, decided and (approved) paid."""
    application = str(uuid.uuid4())
    referral = str(uuid.uuid4())
    cert = f"C-{person[:8]}"
    learner = {"programme_code": "cdd-2026", "cohort_code": "K-1", "occupation": "food"}
    facts = {"referral_id": referral, "lender_code": "gsb", "product_code": "gsb-loan"}
    told: list[ev.Event] = [
        ev.PersonRegistered(
            person_id=person, province_code="34", village_code=village, registered_at=at(0)
        ),
        ev.HouseholdRegistered(
            household_id=household, province_code="34", village_code=village, registered_at=at(0)
        ),
        ev.HouseholdMemberJoined(household_id=household, person_id=person, joined_at=at(0)),
        ev.HouseholdIncomeRecorded(
            household_id=household,
            income_band="B01",
            band_floor=0,
            band_ceiling=3000,
            low_income=True,
            recorded_at=at(0),
        ),
        ev.LearnerApplied(
            person_id=person, application_id=application, applied_at=at(1), **learner
        ),
        ev.LearnerEnrolled(
            person_id=person, enrolment_id=application, rank=1, enrolled_at=at(2), **learner
        ),
        ev.TrainingCompleted(
            person_id=person, enrolment_id=application, hours=30, completed_at=at(7), **learner
        ),
        ev.QualificationAwarded(
            person_id=person,
            certificate_number=cert,
            occupation="food",
            level=2,
            valid_until=date(2029, 3, 1),
            awarded_at=at(8),
        ),
        ev.LoanReferralCreated(
            person_id=person,
            occupation="food",
            level=2,
            certificate_number=cert,
            matched_clauses=[],
            created_at=at(9),
            **facts,
        ),
        ev.LoanReferralAcknowledged(person_id=person, acknowledged_at=at(10), **facts),
    ]
    if approve:
        told += [
            ev.LoanApproved(person_id=person, amount=20000, approved_at=at(12), **facts),
            ev.LoanDisbursed(
                person_id=person,
                amount=20000,
                disbursed_on=date(2026, 3, 20),
                disbursed_at=at(18),
                **facts,
            ),
            ev.HouseholdIncomeRecorded(
                household_id=household,
                income_band="B03",
                band_floor=6000,
                band_ceiling=9000,
                low_income=False,
                recorded_at=at(40),
            ),
        ]
    else:
        told.append(
            ev.LoanDeclined(person_id=person, reason_code="debt-ratio", declined_at=at(40), **facts)
        )
    return told


SETUP: list[ev.Event] = [
    ev.ProgrammeRegistered(
        programme_code="cdd-2026",
        name="CDD Sammachiv",
        owner_code="cdd",
        year=2026,
        occupations=["food"],
        target_total=2,
        targets=[ev.PlaceTarget(place_kind="village", place_code="3401", target=1)],
        registered_at=at(0),
    ),
    ev.CohortScheduled(
        cohort_code="K-1",
        programme_code="cdd-2026",
        course_code="C-1",
        occupation="food",
        venue_kind="village",
        venue_code="3401",
        capacity=20,
        village_cap=20,
        dates=[date(2026, 3, 3)],
        scheduled_at=at(0),
    ),
    ev.VillageRegistered(
        village_code="3401", name="Ban Nong", province_code="34", registered_at=at(0)
    ),
    ev.LoanProductPublished(
        product_code="gsb-loan",
        lender_code="gsb",
        lender_name="GSB",
        name="GSB loan",
        rule_version=1,
        sla_days=14,
        published_at=at(0),
    ),
]


async def take(db: Database, told: Sequence[ev.Event]) -> None:
    async with db.transaction() as session:
        for event in told:
            await HANDLERS[type(event)](session, event)


async def figures_of(db: Database, filters: Filters | None = None) -> Figures:
    async with db.transaction() as session:
        return await figures.compute(session, filters or Filters(), now=NOW)


def stages(figure: Figures, programme: str | None = None) -> dict[str, int]:
    funnel = figure.funnel.overall
    if programme:
        funnel = next(f for f in figure.funnel.programmes if f.programme_code == programme)
    return {s.stage: s.people for s in funnel.stages}


async def everything(session: AsyncSession, but: type | None = None) -> str:
    """Every read-model row, as text: what a search for a person's id would go through."""
    out = []
    for table in READ_MODEL:
        if table is but:
            continue
        rows = await session.exec(text(f"SELECT * FROM {table.__tablename__}"))  # type: ignore[call-overload]
        out.extend(repr(tuple(r)) for r in rows.all())
    return "\n".join(out)


async def test_a_journey_fills_every_figure(dashboard_db: Database) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    await take(
        dashboard_db,
        [*SETUP, *journey(alice, "H-1", approve=True), *journey(bob, "H-2", approve=False)],
    )
    figure = await figures_of(dashboard_db)
    assert stages(figure, "cdd-2026") == {
        "registered": 2,
        "applied": 2,
        "enrolled": 2,
        "completed": 2,
        "certified": 2,
        "referred": 2,
        "acknowledged": 2,
        "approved": 1,
        "disbursed": 1,
    }
    drops = {(d.kind, d.reason): d.people for d in figure.funnel.programmes[0].drop_outs}
    assert drops == {("declined", "debt-ratio"): 1}
    total, village = figure.targets.rows
    assert (total.target, total.achieved, total.percent) == (2, 2, 100.0)
    assert (village.place_name, village.target, village.achieved, village.percent) == (
        "Ban Nong",
        1,
        2,
        200.0,
    )
    (credit,) = figure.time_to_credit.rows
    steps = {s.step: s for s in credit.steps}
    assert steps["completion_to_certificate"].median_seconds == 86400
    assert steps["referral_to_decision"].n == 2
    assert steps["referral_to_decision"].p90_seconds == 31 * 86400
    assert steps["completion_to_disbursement"].median_seconds == 11 * 86400
    # 14 days to decide: the decline on day 31 breached it, the approval on day 3 did not.
    assert (credit.sla_days, credit.referrals, credit.breached) == (14, 2, 1)
    (lender,) = figure.lenders.rows
    assert (lender.approved, lender.declined, lender.approval_rate) == (1, 1, 50.0)
    assert (lender.amount_disbursed, lender.lender_name) == (20000, "GSB")
    (band,) = figure.selection.bands
    assert (band.income_band, band.applied, band.enrolled) == ("B01", 2, 2)
    (outcome,) = figure.outcomes.rows
    assert (outcome.households, outcome.improved, outcome.no_record_after) == (2, 1, 1)
    assert (outcome.before, outcome.after) == ({"B01": 2}, {"B03": 1})


async def test_the_order_events_arrive_in_does_not_change_a_figure(
    dashboard_db: Database, templates: object
) -> None:
    told = [*SETUP]
    for n in range(6):
        told += journey(str(uuid.uuid4()), f"H-{n}", approve=n % 2 == 0)
    await take(dashboard_db, told)
    in_order = (await figures_of(dashboard_db)).model_dump()
    shuffled = list(told)
    random.Random(7).shuffle(shuffled)
    async with dashboard_db.transaction() as session:
        for table in READ_MODEL:
            await session.exec(text(f"DELETE FROM {table.__tablename__}"))  # type: ignore[call-overload]
    await take(dashboard_db, shuffled)
    assert (await figures_of(dashboard_db)).model_dump() == in_order


async def test_an_erased_person_leaves_no_row_and_every_figure_as_it_was(
    dashboard_db: Database,
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    hers = journey(alice, "H-1", approve=False)
    await take(dashboard_db, [*SETUP, *hers, *journey(bob, "H-2", approve=False)])
    before = (await figures_of(dashboard_db)).model_dump()
    async with dashboard_db.transaction() as session:
        assert digest(alice) in await everything(session, but=Redirect)
    await take(dashboard_db, [ev.PersonErased(person_id=alice, erased_at=at(50))])
    async with dashboard_db.transaction() as session:
        rows = await everything(session, but=Redirect)
        mark = await session.get(Redirect, digest(alice))
    assert digest(alice) not in rows and alice not in rows
    assert digest(bob) in rows
    assert mark is not None and mark.to_subject is None  # erased: leads nowhere
    assert (await figures_of(dashboard_db)).model_dump() == before
    # A late event of hers (funding cancels on erasure) still lands on the referral.
    referral = next(e for e in hers if isinstance(e, ev.LoanReferralCreated))
    await take(
        dashboard_db,
        [
            ev.LoanReferralCancelled(
                person_id=alice,
                referral_id=referral.referral_id,
                lender_code="gsb",
                product_code="gsb-loan",
                previous_status="declined",
                reason="person-erased",
                cancelled_at=at(51),
            )
        ],
    )
    drops = {
        (d.kind, d.reason): d.people
        for d in (await figures_of(dashboard_db)).funnel.overall.drop_outs
    }
    assert drops[("cancelled", "person-erased")] == 1
    async with dashboard_db.transaction() as session:
        assert digest(alice) not in await everything(session, but=Redirect)


async def test_a_merged_record_counts_once_under_its_survivor(dashboard_db: Database) -> None:
    survivor, retired = str(uuid.uuid4()), str(uuid.uuid4())
    told = [*SETUP, *journey(retired, "H-1", approve=True)]
    told.append(ev.PersonRegistered(person_id=survivor, province_code="34", registered_at=at(0)))
    await take(dashboard_db, told)
    assert stages(await figures_of(dashboard_db))["registered"] == 2
    await take(
        dashboard_db, [ev.PersonMerged(person_id=retired, survivor_id=survivor, merged_at=at(30))]
    )
    figure = await figures_of(dashboard_db)
    assert stages(figure)["registered"] == 1
    assert stages(figure, "cdd-2026")["disbursed"] == 1
    async with dashboard_db.transaction() as session:
        rows = await everything(session)
    assert rows.count(digest(survivor)) >= 4  # person, membership, application, certificate...


async def test_figures_are_computed_once_per_change(dashboard_db: Database) -> None:
    changes = Changes()
    cached = figures.Cached(changes)
    await take(dashboard_db, [*SETUP, *journey(str(uuid.uuid4()), "H-1", approve=True)])
    async with dashboard_db.transaction() as session:
        first = await cached(session, Filters())
        assert await cached(session, Filters()) is first
        other = await cached(session, Filters(programme="cdd-2026"))
        assert other is not first
    await take(dashboard_db, journey(str(uuid.uuid4()), "H-2", approve=False))
    changes.bump(1)
    async with dashboard_db.transaction() as session:
        again = await cached(session, Filters())
    assert again is not first
    assert stages(again)["applied"] == stages(first)["applied"] + 1
