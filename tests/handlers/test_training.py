"""Training use cases on a migrated SQLite database, without a broker: the registry's
events go through the service's HANDLERS table, and each use case's staged events are read
back from the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.consumers import HANDLERS
from services.training.domain import DayPlanEntry
from services.training.handlers import completion, seats, setup
from services.training.tables import Outbox
from shared.db import Database
from shared.events import Event, OrganisationRegistered, PersonRegistered
from tests.support.outbox import Staged, names, staged

OCCUPATION = "food-and-beverage-production"
DAYS = 3
STARTED = date.today() - timedelta(days=10)  # over: attendance is recorded, the cohort closes


async def consume(session: AsyncSession, event: Event) -> None:
    """As the consumer does: the handler the service's table names for the event."""
    await HANDLERS[type(event)](session, event)


async def cohort(db: Database, code: str, *, capacity: int) -> None:
    """A programme owner the registry announced, one programme, course and cohort."""
    now = datetime.now(UTC)
    owner = OrganisationRegistered(
        code="owner-1", kind="programme-owner", name="Owner", registered_at=now
    )
    async with db.transaction() as session:
        await consume(session, owner)
        await setup.create_programme(
            session,
            setup.NewProgramme(
                "P-1", "Programme", "owner-1", 2026, [OCCUPATION], target_total=10, targets=[]
            ),
        )
        await setup.create_course(
            session,
            setup.NewCourse(
                "C-1",
                "P-1",
                OCCUPATION,
                "Food",
                days=DAYS,
                hours=18,
                day_plan=[DayPlanEntry(1, DAYS, "knowledge-transfer")],
                min_attendance_days=DAYS,
                practical_required=True,
            ),
        )
        await setup.create_cohort(
            session,
            setup.NewCohort(
                code,
                "C-1",
                venue_kind="village",
                venue_code="V-1",
                venue_name=None,
                starts_on=STARTED,
                dates=None,
                capacity=capacity,
                village_cap=None,
                one_per_household=False,
                trainer_ids=[],
            ),
        )


async def registered(db: Database, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with db.transaction() as session:
        for person_id in ids:
            event = PersonRegistered(
                person_id=person_id,
                province_code="34",
                birth_year=1990,
                registered_at=datetime.now(UTC),
            )
            await consume(session, event)
    return ids


SETUP = ("ProgrammeRegistered", "CohortScheduled")


async def events(db: Database) -> list[Staged]:
    """The learner events staged (the set-up's own are read apart)."""
    async with db.transaction() as session:
        return [e for e in await staged(session, Outbox) if e.name not in SETUP]


async def test_setting_up_tells_the_programme_with_its_targets_and_the_cohort_with_its_cap(
    training_db: Database,
) -> None:
    await cohort(training_db, "K-1", capacity=7)
    async with training_db.transaction() as session:
        told = [e for e in await staged(session, Outbox) if e.name in SETUP]
    assert [e.name for e in told] == list(SETUP)
    programme, scheduled = (e.data for e in told)
    assert (programme["programme_code"], programme["target_total"], programme["year"]) == (
        "P-1",
        10,
        2026,
    )
    assert (scheduled["cohort_code"], scheduled["programme_code"], scheduled["capacity"]) == (
        "K-1",
        "P-1",
        7,
    )
    assert len(scheduled["dates"]) == DAYS


async def test_applying_and_selecting_stage_applied_then_enrolled_or_waitlisted(
    training_db: Database,
) -> None:
    await cohort(training_db, "K-1", capacity=1)
    first, second = await registered(training_db, 2)
    async with training_db.transaction() as session:
        await seats.apply(session, "K-1", first)
        await seats.apply(session, "K-1", second)
    assert names(await events(training_db)) == ["LearnerApplied", "LearnerApplied"]

    async with training_db.transaction() as session:
        selection = await seats.run_selection(session, "K-1")
    assert (selection.enrolled, selection.waitlisted) == (1, 1)
    placed = {e.key: e.name for e in (await events(training_db))[2:]}
    assert sorted(placed.values()) == ["LearnerEnrolled", "LearnerWaitlisted"]
    assert set(placed) == {first, second}


async def test_closing_a_cohort_stages_completed_or_not_completed_per_learner(
    training_db: Database,
) -> None:
    await cohort(training_db, "K-2", capacity=5)
    present, absent, failed = await registered(training_db, 3)
    async with training_db.transaction() as session:
        for person_id in (present, absent, failed):
            await seats.apply(session, "K-2", person_id)
        await seats.run_selection(session, "K-2")
    days = [STARTED + timedelta(days=i) for i in range(DAYS)]
    marks = [
        completion.Mark(person_id, day, person_id != absent or day == days[0])
        for person_id in (present, absent, failed)
        for day in days
    ]
    async with training_db.transaction() as session:
        await completion.record_attendance(session, "K-2", marks)
        await completion.record_practicals(
            session, "K-2", [(present, True), (absent, True), (failed, False)]
        )
    before = len(await events(training_db))

    async with training_db.transaction() as session:
        outcomes = await completion.close(session, "K-2")
    assert {o.application.person_id: o.completed for o in outcomes} == {
        present: True,
        absent: False,
        failed: False,
    }
    closing = {e.key: e for e in (await events(training_db))[before:]}
    assert {k: e.name for k, e in closing.items()} == {
        present: "TrainingCompleted",
        absent: "TrainingNotCompleted",
        failed: "TrainingNotCompleted",
    }
    assert closing[present].data["days_attended"] == DAYS
    assert closing[present].data["occupation"] == OCCUPATION
    assert closing[absent].data["reason"] == f"attended 1 day(s); the course needs {DAYS}"
    assert closing[failed].data["reason"] == "practical not passed"
