"""Reads: programme achievement against target, rankings with explanations, counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training import domain
from services.training.domain import ApplicationStatus
from services.training.handlers.common import get_application
from services.training.handlers.seats import PLACED, candidate, placed_candidates, rules_of
from services.training.tables import (
    Application,
    Cohort,
    KnownHousehold,
    KnownMembership,
    KnownOrganisation,
    KnownPerson,
    KnownTrainer,
    Programme,
    ProgrammeTarget,
)
from shared.db import count, get_or_404


@dataclass(frozen=True)
class Progress:
    place_kind: str | None
    place_code: str | None
    target: int
    completed: int

    @property
    def percent(self) -> float:
        return round(100 * self.completed / self.target, 1) if self.target else 0.0


async def achievement(
    session: AsyncSession, code: str
) -> tuple[Programme, Progress, list[Progress]]:
    """Learners who completed (each had a TrainingCompleted) against the targets."""
    programme = await get_or_404(session, Programme, code, what="programme", field="programme_code")
    completed = (
        select(
            Application.province_code,
            Application.village_code,
            Application.cohort_code,
            func.count(),
        )
        .where(
            Application.programme_code == code,
            Application.status == ApplicationStatus.COMPLETED,
        )
        .group_by(
            col(Application.province_code),
            col(Application.village_code),
            col(Application.cohort_code),
        )
    )
    venues = {
        c.code: (c.venue_kind, c.venue_code)
        for c in (await session.exec(select(Cohort).where(Cohort.programme_code == code))).all()
    }
    by_place: dict[tuple[str, str], int] = {}
    total = 0
    for province, village, cohort_code, n in (await session.exec(completed)).all():
        total += n
        for kind, place in (
            ("province", province),
            ("village", village),
            venues.get(cohort_code, ("", None)),
        ):
            if place is not None:
                by_place[kind, place] = by_place.get((kind, place), 0) + n
    targets = (
        await session.exec(select(ProgrammeTarget).where(ProgrammeTarget.programme_code == code))
    ).all()
    places = [
        Progress(
            t.place_kind, t.place_code, t.target, by_place.get((t.place_kind, t.place_code), 0)
        )
        for t in sorted(targets, key=lambda t: (t.place_kind, t.place_code))
    ]
    return programme, Progress(None, None, programme.target_total, total), places


@dataclass(frozen=True)
class Ranked:
    application: Application
    rank: int | None  # current position among placed applicants
    waitlist_position: int | None
    why: str


async def ranking(
    session: AsyncSession, cohort: Cohort, only: set[str] | None = None
) -> list[Ranked]:
    """The cohort's applications (or `only` those ids), placed ones in rank order, with
    explanations; ranks are positions in the whole cohort's ranking."""
    rules = rules_of(cohort)
    placed = await placed_candidates(session, cohort.code, *PLACED)
    ranked = domain.rank(c for c, _ in placed)
    position = {c.application_id: i for i, c in enumerate(ranked, start=1)}
    status = {c.application_id: s for c, s in placed}
    waiting = [c for c in ranked if status[c.application_id] == ApplicationStatus.WAITLISTED]
    wait_position = {c.application_id: i for i, c in enumerate(waiting, start=1)}
    query = select(Application).where(Application.cohort_code == cohort.code)
    if only is not None:
        query = query.where(col(Application.application_id).in_(list(only)))
    out = []
    for app in (await session.exec(query)).all():
        rank = position.get(app.application_id)
        why = _why(app, rank, len(ranked), rules, wait_position)
        out.append(Ranked(app, rank, wait_position.get(app.application_id), why))
    return sorted(out, key=lambda r: (r.rank is None, r.rank or 0, r.application.applied_at))


def _why(
    app: Application, rank: int | None, total: int, rules: domain.Rules, waiting: dict[str, int]
) -> str:
    c = candidate(app)
    if app.status == ApplicationStatus.APPLIED:
        return "Applied; selection for this cohort has not run yet."
    if app.status == ApplicationStatus.WITHDRAWN:
        return f"Withdrawn: {app.outcome_reason}."
    assert rank is not None
    if app.status == ApplicationStatus.WAITLISTED:
        label = f"Waitlisted, position {waiting[app.application_id]}"
    elif app.status == ApplicationStatus.ENROLLED:
        label = "Seated"
    else:
        label = f"Seated, then {app.status.replace('_', ' ')}"
        if app.outcome_reason:
            label += f" ({app.outcome_reason})"
    return domain.explain(c, rank, total, label, app.why or "", rules)


async def cohort_ranking(session: AsyncSession, code: str) -> tuple[Cohort, list[Ranked]]:
    cohort = await get_or_404(session, Cohort, code, what="cohort", field="cohort_code")
    return cohort, await ranking(session, cohort)


async def application(session: AsyncSession, application_id: str) -> Ranked:
    app = await get_application(session, application_id)
    cohort = await session.get(Cohort, app.cohort_code)
    assert cohort is not None
    [ranked] = await ranking(session, cohort, only={application_id})
    return ranked


async def status_counts(session: AsyncSession, cohort_code: str | None = None) -> dict[str, int]:
    query = select(Application.status, func.count()).group_by(col(Application.status))
    if cohort_code is not None:
        query = query.where(Application.cohort_code == cohort_code)
    counted = {str(s): int(n) for s, n in (await session.exec(query)).all()}
    return {s.value: counted.get(s.value, 0) for s in ApplicationStatus}


async def counts_by_cohort(
    session: AsyncSession, cohort_codes: list[str]
) -> dict[str, dict[str, int]]:
    query = (
        select(Application.cohort_code, Application.status, func.count())
        .where(col(Application.cohort_code).in_(cohort_codes))
        .group_by(col(Application.cohort_code), col(Application.status))
    )
    out = {code: {s.value: 0 for s in ApplicationStatus} for code in cohort_codes}
    for code, status, n in (await session.exec(query)).all():
        out[code][status] = int(n)
    return out


async def counts(session: AsyncSession) -> dict[str, int]:
    by_status = await status_counts(session)
    known = await count(session, KnownPerson)
    seated = sum(by_status[s] for s in ("enrolled", "completed", "not_completed"))
    return {
        "known_people": int(known),
        "enrolled": seated,
        "completed": by_status["completed"],
        "not_completed": by_status["not_completed"],
        "waitlisted": by_status["waitlisted"],
        "withdrawn": by_status["withdrawn"],
    }


async def replica_sizes(session: AsyncSession) -> dict[str, int]:
    """How much of the registry the replica holds: lets an operator see it catch up."""
    tables = {
        "people": KnownPerson,
        "memberships": KnownMembership,
        "households": KnownHousehold,
        "trainers": KnownTrainer,
        "organisations": KnownOrganisation,
    }
    return {name: await count(session, table) for name, table in tables.items()}
