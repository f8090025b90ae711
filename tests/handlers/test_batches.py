"""Batch handlers cost a fixed number of SQL statements per batch, whatever its size: the
statements a batch of 1 and a batch of 200 send are counted (SQLAlchemy's
before_cursor_execute) and must be as many. And a batch decides what one event at a time
decides."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from services.certification.domain import Route
from services.certification.handlers import assessments
from services.certification.tables import Outbox as CertificationOutbox
from services.funding.consumers import HANDLERS as FUNDING
from services.funding.handlers import catalogue
from services.funding.tables import Outbox as FundingOutbox
from shared.batch import Delivered, batch_form, rounds, run, runs
from shared.db import Database
from shared.events import (
    Event,
    PersonErased,
    PersonRegistered,
    QualificationAwarded,
    TrainingCompleted,
)
from tests.handlers import test_certification as cert
from tests.support.funding import Someone, award, consent_granted, shared_data
from tests.support.outbox import staged


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def one_by_one(db: Database, handlers: Any, events: Sequence[Event]) -> None:
    for e in events:
        async with db.transaction() as session:
            await handlers[type(e)](session, e)


async def as_batch(db: Database, handlers: Any, events: Sequence[Event], **bound: Any) -> None:
    form = batch_form(handlers[type(events[0])])
    assert form is not None, f"{type(events[0]).__name__} has no batch handler"
    async with db.transaction() as session:
        await run(form, session, [Delivered(e) for e in events], **bound)


# --- funding ------------------------------------------------------------------------------


async def funding_people(db: Database, n: int) -> list[Someone]:
    """n registered people, every other one consenting (gsb, with contact data)."""
    people = [Someone(str(uuid.uuid4()), f"SB-BATCH-{i:05d}") for i in range(n)]
    upstream: list[Event] = []
    for i, someone in enumerate(people):
        upstream.append(
            PersonRegistered(
                person_id=someone.person_id,
                province_code="10",
                birth_year=1990,
                registered_at=datetime.now(UTC),
            )
        )
        if i % 2 == 0:
            granted = consent_granted(someone.person_id, "gsb", ["contact"])
            upstream += [granted, shared_data(granted)]
    await one_by_one(db, FUNDING, upstream)
    return people


async def awards_sent(db: Database, n: int) -> int:
    async with db.transaction() as session:
        await catalogue.seed(session, catalogue.load_seed())
    people = await funding_people(db, n)
    awards = [award(p, "health-massage", 2) for p in people]
    with statements(db) as sent:
        await as_batch(db, FUNDING, awards)
    return len(sent)


async def test_a_batch_of_awards_costs_funding_the_same_statements_as_one(
    funding_db: Database, templates: Any, tmp_path: Any
) -> None:
    alone = await awards_sent(funding_db, 1)
    (tmp_path / "200").mkdir()
    other = await templates.fresh("funding", tmp_path / "200")
    try:
        many = await awards_sent(other, 200)
    finally:
        await other.dispose()
    assert many == alone, f"1 award: {alone} statements, 200 awards: {many}"


async def test_a_batch_of_awards_stages_what_one_at_a_time_does(
    funding_db: Database, templates: Any, tmp_path: Any
) -> None:
    async def referrals(db: Database, batch: bool) -> list[tuple[str, str, str]]:
        async with db.transaction() as session:
            await catalogue.seed(session, catalogue.load_seed())
        people = await funding_people(db, 6)
        awards: list[Event] = [award(p, "health-massage", 2) for p in people]
        awards.append(award(people[0], "food-and-beverage-production", 2))  # a second round
        if batch:
            await as_batch(db, FUNDING, awards)
        else:
            await one_by_one(db, FUNDING, awards)
        index = {p.person_id: i for i, p in enumerate(people)}
        async with db.transaction() as session:
            rows = await staged(session, FundingOutbox)
        return sorted(
            (str(index.get(e.data["person_id"])), e.topic, f"{e.name} {e.data['product_code']}")
            for e in rows
            if e.name.startswith("LoanReferral")
        )

    (tmp_path / "one").mkdir()
    other = await templates.fresh("funding", tmp_path / "one")
    try:
        assert await referrals(funding_db, batch=True) == await referrals(other, batch=False)
    finally:
        await other.dispose()


def test_rounds_keep_one_keys_items_in_order() -> None:
    items = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)]
    assert list(rounds(items, lambda i: i[0])) == [
        [("a", 1), ("b", 1), ("c", 1)],
        [("a", 2), ("b", 2)],
        [("a", 3)],
    ]


def test_runs_gather_kinds_but_keep_each_persons_order_and_barriers() -> None:
    # (kind, person): kind None is a one-event handler's event, a barrier.
    items = [
        ("reg", "p1"),
        ("consent", "p1"),
        ("reg", "p2"),  # joins the first run: p2 has nothing later
        ("award", "p1"),
        ("consent", "p2"),  # joins the consent run
        ("reg", "p1"),  # p1 has later runs (consent, award): a new run
        (None, "p3"),  # a barrier
        ("reg", "p4"),
    ]
    got = runs(items, kind=lambda i: i[0], person=lambda i: i[1])
    assert got == [
        [("reg", "p1"), ("reg", "p2")],
        [("consent", "p1"), ("consent", "p2")],
        [("award", "p1")],
        [("reg", "p1")],
        [(None, "p3")],
        [("reg", "p4")],
    ]


def test_a_one_event_handler_has_no_batch_form() -> None:
    assert batch_form(FUNDING[QualificationAwarded]) is not None
    assert batch_form(FUNDING[PersonErased]) is None


# --- certification ------------------------------------------------------------------------


async def waiting_passes(db: Database, n: int) -> list[str]:
    """n people whose passes (training route) wait for their training."""
    await cert.assessment_session(db, "S-BATCH")
    people = [str(uuid.uuid4()) for _ in range(n)]
    async with db.transaction() as session:
        candidates = [assessments.NewCandidate(p, "มาลี ศรีสุข", Route.TRAINING) for p in people]
        await assessments.register_candidates(session, "S-BATCH", candidates)
        results = [assessments.Results(p, dict.fromkeys(cert.UNITS, True)) for p in people]
        await assessments.record_results(session, "S-BATCH", results, cert.ISSUING)
    return people


def completed(person_id: str) -> TrainingCompleted:
    return TrainingCompleted(
        person_id=person_id,
        enrolment_id=str(uuid.uuid4()),
        programme_code="P-1",
        cohort_code="K-1",
        occupation=cert.OCCUPATION,
        hours=18,
        completed_at=datetime.now(UTC),
    )


async def completions_sent(db: Database, n: int) -> tuple[int, int]:
    """Statements for n completions, and the certificates they awarded."""
    people = await waiting_passes(db, n)
    with statements(db) as sent:
        await as_batch(db, cert.HANDLERS, [completed(p) for p in people])
    async with db.transaction() as session:
        awarded = [
            e
            for e in await staged(session, CertificationOutbox)
            if e.name == "QualificationAwarded"
        ]
    return len(sent), len(awarded)


async def test_a_batch_of_completions_costs_certification_the_same_statements_as_one(
    certification_db: Database, templates: Any, tmp_path: Any
) -> None:
    alone = await completions_sent(certification_db, 1)
    (tmp_path / "200").mkdir()
    other = await templates.fresh("certification", tmp_path / "200")
    try:
        many = await completions_sent(other, 200)
    finally:
        await other.dispose()
    assert (alone[1], many[1]) == (1, 200)  # each completion awarded its waiting pass
    assert many[0] == alone[0], f"1 completion: {alone[0]} statements, 200: {many[0]}"
