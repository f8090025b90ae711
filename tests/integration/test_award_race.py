"""The award needs a pass and a training completion, recorded concurrently in any order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select

import services.certification
from services.certification.credentials import Issuer
from services.certification.domain import Route
from services.certification.handlers import assessments, holders, standards
from services.certification.handlers.certificates import Issuing
from services.certification.tables import Assessment, Certificate, KnownOrganisation
from shared.db import Database
from shared.events import TrainingCompleted
from tests.support import POSTGRES

pytestmark = pytest.mark.skipif(
    not POSTGRES, reason="the race needs concurrent connections (PostgreSQL)"
)


@pytest.fixture
async def db(database_urls: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(database_urls["certification"])
    await database.migrate(Path(services.certification.__file__).parent / "migrations")
    await standards.load_shipped(database)
    async with database.transaction() as session:
        session.add(KnownOrganisation(code="tpqi", kind="assessor", name="TPQI"))
    yield database
    await database.dispose()


ISSUING = Issuing(Issuer("https://certs.test", "test"), status_list_size=131_072)
PASS = {"GD-01": True, "GD-02": True, "GD-03": True}


async def test_concurrent_result_and_completion_always_award(db: Database) -> None:
    people = [str(uuid.uuid4()) for _ in range(150)]
    async with db.transaction() as session:
        await assessments.create_session(
            session,
            assessments.NewSession("race", "gardener-l1", "tpqi", datetime.now(UTC).date()),
        )
        await assessments.register_candidates(
            session,
            "race",
            [assessments.NewCandidate(p, "Test Person", Route.TRAINING) for p in people],
        )

    async def assess(person: str) -> None:
        async with db.transaction() as session:
            await assessments.record_results(
                session, "race", [assessments.Results(person, PASS)], ISSUING
            )

    async def complete(person: str) -> None:
        event = TrainingCompleted(
            person_id=person,
            enrolment_id="e",
            programme_code="p",
            cohort_code="c",
            occupation="gardener",
            hours=30,
            completed_at=datetime.now(UTC),
        )
        async with db.transaction() as session:
            await holders.on_training_completed(session, event, issuing=ISSUING)

    await asyncio.gather(*(f(p) for p in people for f in (assess, complete)))

    async with db.transaction() as session:
        stuck = (
            await session.exec(
                select(func.count())
                .select_from(Assessment)
                .where(Assessment.status == "awaiting-training")
            )
        ).one()
        certificates = (await session.exec(select(func.count()).select_from(Certificate))).one()
    assert stuck == 0
    assert certificates == len(people)
