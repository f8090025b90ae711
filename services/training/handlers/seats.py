"""Applications and seats: apply, select, place late applicants, withdraw and promote.

Every change to a cohort's seats holds the cohort lock (`locked_cohort`), and after each
change the best-ranked waitlisted applicants who now fit are promoted, so the invariant
"nobody waits while a seat they fit is free" holds between transactions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training import domain
from services.training.domain import ApplicationStatus, Candidate, CohortStatus, Rules
from services.training.handlers.common import (
    get_application,
    learner_facts,
    locked_cohort,
    stage,
)
from services.training.tables import (
    Application,
    Cohort,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
)
from shared.errors import Conflict, DomainError, Gone, NotFound
from shared.events import (
    LearnerApplied,
    LearnerEnrolled,
    LearnerWaitlisted,
    LearnerWithdrew,
    copied,
)

Status = ApplicationStatus


def rules_of(cohort: Cohort) -> Rules:
    return Rules(cohort.capacity, cohort.village_cap, cohort.one_per_household)


# The application's columns selection reads: Candidate's fields, in their order (the raw
# rows of placed_candidates are passed to it positionally).
_CANDIDATE_COLUMNS = tuple(f.name for f in fields(Candidate))


def candidate(app: Application) -> Candidate:
    return Candidate(**copied(app, *_CANDIDATE_COLUMNS))


@dataclass(frozen=True)
class Replica:
    """What the replica knows of some people, loaded in a few queries (not one per person:
    a session's flush cost grows with the objects it holds, so per-row reads are O(n^2))."""

    people: dict[str, KnownPerson]
    memberships: dict[str, KnownMembership]
    households: dict[str, KnownHousehold]


async def load_replica(session: AsyncSession, person_ids: Sequence[str]) -> Replica:
    people: dict[str, KnownPerson] = {}
    memberships: dict[str, KnownMembership] = {}
    households: dict[str, KnownHousehold] = {}
    for chunk in _chunks(person_ids):
        people |= {
            p.person_id: p
            for p in (
                await session.exec(select(KnownPerson).where(col(KnownPerson.person_id).in_(chunk)))
            ).all()
        }
        found = (
            await session.exec(
                select(KnownMembership).where(col(KnownMembership.person_id).in_(chunk))
            )
        ).all()
        memberships |= {m.person_id: m for m in found}
        wanted = list({m.household_id for m in found})
        households |= {
            h.household_id: h
            for h in (
                await session.exec(
                    select(KnownHousehold).where(col(KnownHousehold.household_id).in_(wanted))
                )
            ).all()
        }
    return Replica(people, memberships, households)


def _chunks(items: Sequence[str], size: int = 1000) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def check_person(person_id: str, person: KnownPerson | None) -> KnownPerson:
    if person is None:
        raise NotFound(
            f"person {person_id} is not known to training (not registered, or the "
            "registry's event has not arrived yet)",
            field="person_id",
        )
    if person.status == "erased":
        raise Gone(f"person {person_id} was erased", field="person_id")
    if person.status == "merged":
        raise Gone(
            f"person {person_id} was merged into {person.survivor_id}; apply with that id",
            field="person_id",
            survivor_id=person.survivor_id,
        )
    return person


def _snapshot(app: Application, person: KnownPerson, replica: Replica) -> None:
    """Freeze the ranking inputs from the replica as they are now."""
    app.province_code = person.province_code
    app.village_code = person.village_code
    membership = replica.memberships.get(person.person_id)
    household = replica.households.get(membership.household_id) if membership else None
    app.household_id = membership.household_id if membership else None
    app.income_band = household.income_band if household else None
    app.band_floor = household.band_floor if household else None
    app.band_ceiling = household.band_ceiling if household else None


async def _applications(
    session: AsyncSession, cohort_code: str, *statuses: Status
) -> list[Application]:
    query = select(Application).where(Application.cohort_code == cohort_code)
    if statuses:
        query = query.where(col(Application.status).in_(list(statuses)))
    return list((await session.exec(query)).all())


async def placed_candidates(
    session: AsyncSession, cohort_code: str, *statuses: Status
) -> list[tuple[Candidate, str]]:
    """(candidate, status) of the cohort's applications in these statuses, read as plain
    columns: building ORM objects for thousands of rows on every withdrawal costs ~100 ms."""
    table = Application.metadata.tables["application"]
    query = (
        sa.select(*(table.c[name] for name in _CANDIDATE_COLUMNS), table.c.status)
        .where(table.c.cohort_code == cohort_code)
        .where(table.c.status.in_(list(statuses)))
    )
    rows = (await (await session.connection()).execute(query)).all()
    return [(Candidate(*row[:-1]), row[-1]) for row in rows]


# --- events ---------------------------------------------------------------------------


def _enrolled(session: AsyncSession, cohort: Cohort, app: Application, now: datetime) -> None:
    stage(
        session,
        LearnerEnrolled(
            **learner_facts(app.person_id, cohort),
            enrolment_id=app.application_id,
            rank=app.rank,
            enrolled_at=now,
        ),
    )


def _waitlisted(
    session: AsyncSession, cohort: Cohort, app: Application, reason: str, now: datetime
) -> None:
    stage(
        session,
        LearnerWaitlisted(
            **learner_facts(app.person_id, cohort),
            application_id=app.application_id,
            rank=app.rank or 0,
            reason=reason,
            waitlisted_at=now,
        ),
    )


def _place(app: Application, status: Status, rank: int, reason: str, now: datetime) -> None:
    """Record where the applicant went and why; the explanation is built on read, from the
    current ranking (`explanation`)."""
    app.status = status
    app.rank = rank
    app.why = reason
    app.updated_at = now


# --- commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    application: Application
    created: bool


async def apply(session: AsyncSession, cohort_code: str, person_id: str) -> Applied:
    """A new application (LearnerApplied); after selection it is placed at once."""
    [result] = await apply_many(session, cohort_code, [person_id])
    if result.error is not None:
        raise result.error
    assert result.applied is not None
    return result.applied


@dataclass(frozen=True)
class BatchResult:
    person_id: str
    applied: Applied | None
    error: DomainError | None


async def apply_many(
    session: AsyncSession, cohort_code: str, person_ids: list[str]
) -> list[BatchResult]:
    """Applications in one transaction, in the given order (application time is the
    tie-break). A person who cannot apply is reported and the others go ahead."""
    cohort = await locked_cohort(session, cohort_code)  # a bad cohort fails the whole batch
    if cohort.status == CohortStatus.CLOSED:
        raise Conflict(f"cohort {cohort_code} is closed", field="cohort_code")
    existing: dict[str, Application] = {}
    for chunk in _chunks(person_ids):
        found = await session.exec(
            select(Application).where(
                Application.cohort_code == cohort_code, col(Application.person_id).in_(chunk)
            )
        )
        existing |= {a.person_id: a for a in found.all()}
    replica = await load_replica(session, person_ids)
    results = []
    for person_id in person_ids:
        if person_id in existing:
            results.append(BatchResult(person_id, Applied(existing[person_id], False), None))
            continue
        try:
            person = check_person(person_id, replica.people.get(person_id))
        except DomainError as error:
            results.append(BatchResult(person_id, None, error))
            continue
        app = _new_application(session, cohort, person, replica)
        existing[person_id] = app
        if cohort.status == CohortStatus.SELECTED:
            await _place_late(session, cohort, app, app.applied_at)
        results.append(BatchResult(person_id, Applied(app, True), None))
    return results


def _new_application(
    session: AsyncSession, cohort: Cohort, person: KnownPerson, replica: Replica
) -> Application:
    now = datetime.now(UTC)
    facts = learner_facts(person.person_id, cohort)
    app = Application(
        application_id=str(uuid.uuid4()),
        **facts,
        status=Status.APPLIED,
        applied_at=now,
        updated_at=now,
    )
    _snapshot(app, person, replica)
    session.add(app)
    stage(session, LearnerApplied(**facts, application_id=app.application_id, applied_at=now))
    return app


PLACED = (Status.ENROLLED, Status.WAITLISTED, Status.COMPLETED, Status.NOT_COMPLETED)


async def _place_late(
    session: AsyncSession, cohort: Cohort, app: Application, now: datetime
) -> None:
    rules = rules_of(cohort)
    placed = await placed_candidates(session, cohort.code, *PLACED)
    holders = [c for c, status in placed if status == Status.ENROLLED]
    blocker = domain.place_late(candidate(app), domain.Seats.of(rules, holders))
    others = [c for c, _ in placed if c.application_id != app.application_id]
    ranking = domain.rank([*others, candidate(app)])
    rank = 1 + next(i for i, c in enumerate(ranking) if c.application_id == app.application_id)
    if blocker is None:
        _place(app, Status.ENROLLED, rank, "a seat was free", now)
        _enrolled(session, cohort, app, now)
    else:
        _place(app, Status.WAITLISTED, rank, blocker, now)
        _waitlisted(session, cohort, app, blocker, now)


@dataclass(frozen=True)
class Selection:
    enrolled: int
    waitlisted: int


async def run_selection(session: AsyncSession, cohort_code: str) -> Selection:
    cohort = await locked_cohort(session, cohort_code)
    if cohort.status != CohortStatus.OPEN:
        raise Conflict(f"selection for cohort {cohort_code} has run already", status=cohort.status)
    rules = rules_of(cohort)
    applied = await _applications(session, cohort_code, Status.APPLIED)
    replica = await load_replica(session, [a.person_id for a in applied])
    for app in applied:  # rank on today's incomes, not those at application time
        if app.person_id in replica.people:
            _snapshot(app, replica.people[app.person_id], replica)
    by_id = {a.application_id: a for a in applied}
    placements = domain.select((candidate(a) for a in applied), rules)
    now = datetime.now(UTC)
    for placement in placements:
        app = by_id[placement.candidate.application_id]
        status = Status.ENROLLED if placement.seated else Status.WAITLISTED
        _place(app, status, placement.rank, placement.reason, now)
        session.add(app)
        if placement.seated:
            _enrolled(session, cohort, app, now)
        else:
            _waitlisted(session, cohort, app, placement.reason, now)
    cohort.status = CohortStatus.SELECTED
    cohort.selected_at = now
    session.add(cohort)
    seated = sum(p.seated for p in placements)
    return Selection(enrolled=seated, waitlisted=len(placements) - seated)


async def promote(session: AsyncSession, cohort: Cohort, now: datetime) -> list[Application]:
    """Fill free seats from the waitlist, best rank first among those who fit."""
    if cohort.status != CohortStatus.SELECTED:
        return []
    rules = rules_of(cohort)
    placed = await placed_candidates(session, cohort.code, Status.ENROLLED, Status.WAITLISTED)
    seats_now = domain.Seats.of(rules, (c for c, s in placed if s == Status.ENROLLED))
    waiting = {c.application_id: c for c, s in placed if s == Status.WAITLISTED}
    promoted = []
    while (best := domain.next_to_promote(waiting.values(), seats_now)) is not None:
        del waiting[best.application_id]
        seats_now.take(best)
        app = await session.get(Application, best.application_id)
        assert app is not None
        _place(app, Status.ENROLLED, app.rank or 0, "promoted when a seat was freed", now)
        session.add(app)
        _enrolled(session, cohort, app, now)
        promoted.append(app)
    return promoted


@dataclass(frozen=True)
class Withdrawal:
    application: Application
    promoted: list[Application]


async def _withdraw(
    session: AsyncSession, cohort: Cohort, app: Application, reason: str, now: datetime
) -> list[Application]:
    domain.withdraw(app.status)
    previous = app.status
    app.status = Status.WITHDRAWN
    app.outcome_reason = reason
    app.updated_at = now
    session.add(app)
    stage(
        session,
        LearnerWithdrew(
            **learner_facts(app.person_id, cohort),
            application_id=app.application_id,
            previous_status=previous,
            reason=reason,
            withdrew_at=now,
        ),
    )
    await session.flush()
    return await promote(session, cohort, now) if previous == Status.ENROLLED else []


async def withdraw(session: AsyncSession, application_id: str, reason: str) -> Withdrawal:
    found = await get_application(session, application_id)
    cohort = await locked_cohort(session, found.cohort_code)
    await session.refresh(found)  # re-read under the lock
    promoted = await _withdraw(session, cohort, found, reason, datetime.now(UTC))
    return Withdrawal(found, promoted)


async def withdraw_everywhere(
    session: AsyncSession, person_id: str, reason: str, *, at: datetime
) -> None:
    """Erasure: the person leaves every cohort not yet closed; freed seats are refilled."""
    apps = (
        await session.exec(
            select(Application).where(
                Application.person_id == person_id,
                col(Application.status).in_(list(domain.OPEN_STATUSES)),
            )
        )
    ).all()
    for app in apps:
        cohort = await locked_cohort(session, app.cohort_code)
        if cohort.status != CohortStatus.CLOSED:
            await _withdraw(session, cohort, app, reason, at)


async def merge_applications(
    session: AsyncSession, retired_id: str, survivor_id: str, at: datetime
) -> None:
    """A merge: the retired id's applications become the survivor's. Where both applied to
    one cohort, the better-placed application stays and the other is withdrawn."""
    apps = (
        await session.exec(select(Application).where(Application.person_id == retired_id))
    ).all()
    for app in apps:
        cohort = await locked_cohort(session, app.cohort_code)
        twin = (
            await session.exec(
                select(Application).where(
                    Application.cohort_code == app.cohort_code,
                    Application.person_id == survivor_id,
                )
            )
        ).first()
        if twin is None:
            app.person_id = survivor_id
            session.add(app)
            continue
        keep, drop = (app, twin) if _better(app, twin) else (twin, app)
        if drop.status in domain.OPEN_STATUSES and cohort.status != CohortStatus.CLOSED:
            await _withdraw(
                session, cohort, drop, f"duplicate record merged into {survivor_id}", at
            )
        if keep is app:  # swap ids, through a placeholder: (cohort, person) is unique
            twin.person_id = app.application_id
            await session.flush()
            app.person_id = survivor_id
            await session.flush()
            twin.person_id = retired_id
            session.add_all([app, twin])


_PREFERENCE = [
    Status.COMPLETED,
    Status.NOT_COMPLETED,
    Status.ENROLLED,
    Status.WAITLISTED,
    Status.APPLIED,
    Status.WITHDRAWN,
]


def _better(a: Application, b: Application) -> bool:
    """Strictly better: on a tie the survivor keeps its own application."""
    return _PREFERENCE.index(Status(a.status)) < _PREFERENCE.index(Status(b.status))
