"""Certification use cases on a migrated SQLite database, without a broker: a pass on the
training route is awarded (QualificationAwarded staged) only once training is complete, in
either order; a fail stages AssessmentFailed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.consumers import bound
from services.certification.credentials import Issuer
from services.certification.domain import Route
from services.certification.handlers import assessments, standards
from services.certification.handlers.certificates import Issuing
from services.certification.tables import Outbox
from shared.db import Database
from shared.events import Event, OrganisationRegistered, TrainingCompleted
from tests.support.outbox import Staged, names, staged

ISSUING = Issuing(Issuer(public_url="https://cert.example", name="Test"), status_list_size=1024)
HANDLERS = bound(ISSUING)
OCCUPATION, LEVEL = "food-and-beverage-production", 2
STANDARD = f"{OCCUPATION}-l{LEVEL}"
UNITS = ["FB-01", "FB-02", "FB-03", "FB-04", "FB-05"]


async def consume(session: AsyncSession, event: Event) -> None:
    """As the consumer does: the handler the service's table names for the event."""
    await HANDLERS[type(event)](session, event)


async def assessment_session(db: Database, code: str) -> None:
    """The shipped standards (start-up), an assessor the registry announced, one session."""
    await standards.load_shipped(db)
    assessor = OrganisationRegistered(
        code="assessor-1", kind="assessor", name="Centre", registered_at=datetime.now(UTC)
    )
    async with db.transaction() as session:
        await consume(session, assessor)
        await assessments.create_session(
            session, assessments.NewSession(code, STANDARD, "assessor-1", date.today())
        )


async def assess(db: Database, code: str, person_id: str, units: dict[str, bool]) -> None:
    async with db.transaction() as session:
        candidate = assessments.NewCandidate(person_id, "มาลี ศรีสุข", Route.TRAINING)
        await assessments.register_candidates(session, code, [candidate])
        await assessments.record_results(
            session, code, [assessments.Results(person_id, units)], ISSUING
        )


async def trained(db: Database, person_id: str) -> None:
    event = TrainingCompleted(
        person_id=person_id,
        enrolment_id=str(uuid.uuid4()),
        programme_code="P-1",
        cohort_code="K-1",
        occupation=OCCUPATION,
        hours=18,
        completed_at=datetime.now(UTC),
    )
    async with db.transaction() as session:
        await consume(session, event)


async def events(db: Database) -> list[Staged]:
    async with db.transaction() as session:
        return await staged(session, Outbox)


async def test_a_pass_after_training_completed_stages_qualification_awarded(
    certification_db: Database,
) -> None:
    await assessment_session(certification_db, "S-1")
    person_id = str(uuid.uuid4())
    await trained(certification_db, person_id)
    assert await events(certification_db) == []

    await assess(certification_db, "S-1", person_id, dict.fromkeys(UNITS, True))
    [award] = await events(certification_db)
    assert (award.name, award.key) == ("QualificationAwarded", person_id)
    assert (award.data["occupation"], award.data["level"]) == (OCCUPATION, LEVEL)
    assert award.data["standard_code"] == STANDARD
    number = award.data["certificate_number"]
    assert award.data["verification_url"] == f"https://cert.example/verify/{number}"


async def test_a_pass_before_training_waits_and_is_awarded_when_training_completes(
    certification_db: Database,
) -> None:
    await assessment_session(certification_db, "S-2")
    person_id = str(uuid.uuid4())
    await assess(certification_db, "S-2", person_id, dict.fromkeys(UNITS, True))
    assert await events(certification_db) == []  # awaiting training: nothing to tell yet

    await trained(certification_db, person_id)
    assert names(await events(certification_db)) == ["QualificationAwarded"]
    await trained(certification_db, person_id)  # a replay awards nothing more
    assert names(await events(certification_db)) == ["QualificationAwarded"]


async def test_a_fail_stages_assessment_failed_naming_the_units(
    certification_db: Database,
) -> None:
    await assessment_session(certification_db, "S-3")
    person_id = str(uuid.uuid4())
    await trained(certification_db, person_id)
    await assess(certification_db, "S-3", person_id, {**dict.fromkeys(UNITS, True), "FB-02": False})

    [failed] = await events(certification_db)
    assert (failed.name, failed.key) == ("AssessmentFailed", person_id)
    assert failed.data["failed_units"] == ["FB-02"]
