"""Programmes, courses and cohorts: created by programme staff, idempotent on their code.

The same request again returns the existing record (a retried POST is harmless); a
different request for an existing code is a 409 naming the fields that differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training import domain
from services.training.domain import CohortStatus, DayPlanEntry
from services.training.handlers.common import stage
from services.training.tables import (
    Cohort,
    Course,
    KnownOrganisation,
    KnownTrainer,
    Programme,
    ProgrammeTarget,
)
from shared import occupations
from shared.db import get_or_404
from shared.errors import Conflict, DomainError, NotFound
from shared.events import CohortScheduled, PlaceTarget, ProgrammeRegistered, copied
from shared.replica import known_organisation

OWNER_KINDS = frozenset({"programme-owner", "training-partner"})

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class Created:
    row: Any
    created: bool


def _same_or_conflict(existing: SQLModel, wanted: Mapping[str, object], what: str) -> None:
    differs = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
    if differs:
        raise Conflict(
            f"{what} exists with different {', '.join(differs)}", field=differs[0], differs=differs
        )


@dataclass(frozen=True)
class Target:
    place_kind: str
    place_code: str
    target: int


@dataclass(frozen=True)
class NewProgramme:
    code: str
    name: str
    owner_code: str
    year: int
    occupations: list[str]
    target_total: int
    targets: list[Target]


async def create_programme(session: AsyncSession, cmd: NewProgramme) -> Created:
    fields = {
        "name": cmd.name,
        "owner_code": cmd.owner_code,
        "year": cmd.year,
        "occupations": cmd.occupations,
        "target_total": cmd.target_total,
    }
    existing = await session.get(Programme, cmd.code)
    if existing is not None:
        _same_or_conflict(existing, fields, f"programme {cmd.code!r}")
        return Created(existing, created=False)
    # Only what a standard covers, or its trainees would await certification for ever.
    occupations.check_all(cmd.occupations, "occupations")
    owner = await known_organisation(
        session, KnownOrganisation, cmd.owner_code, service="training", field="owner_code"
    )
    if owner.kind not in OWNER_KINDS:
        raise DomainError(
            f"organisation {cmd.owner_code!r} is a {owner.kind}; a programme owner must be a "
            f"{' or '.join(sorted(OWNER_KINDS))}",
            field="owner_code",
        )
    seen: set[tuple[str, str]] = set()
    for i, target in enumerate(cmd.targets):
        if (target.place_kind, target.place_code) in seen:
            raise DomainError("a place is targeted twice", field=f"targets.{i}")
        seen.add((target.place_kind, target.place_code))
    programme = Programme(code=cmd.code, created_at=datetime.now(UTC), **fields)  # type: ignore[arg-type]
    session.add(programme)
    for target in cmd.targets:
        session.add(ProgrammeTarget(programme_code=cmd.code, **target.__dict__))
    stage(
        session,
        ProgrammeRegistered(
            programme_code=cmd.code,
            targets=[PlaceTarget(**target.__dict__) for target in cmd.targets],
            registered_at=programme.created_at,
            **fields,
        ),
    )
    return Created(programme, created=True)


@dataclass(frozen=True)
class NewCourse:
    code: str
    programme_code: str
    occupation: str
    title: str
    days: int
    hours: int
    day_plan: list[DayPlanEntry]
    min_attendance_days: int
    practical_required: bool


async def create_course(session: AsyncSession, cmd: NewCourse) -> Created:
    fields = {
        "programme_code": cmd.programme_code,
        "occupation": cmd.occupation,
        "title": cmd.title,
        "days": cmd.days,
        "hours": cmd.hours,
        "day_plan": [entry.__dict__ for entry in cmd.day_plan],
        "min_attendance_days": cmd.min_attendance_days,
        "practical_required": cmd.practical_required,
    }
    existing = await session.get(Course, cmd.code)
    if existing is not None:
        _same_or_conflict(existing, fields, f"course {cmd.code!r}")
        return Created(existing, created=False)
    programme = await get_or_404(
        session, Programme, cmd.programme_code, what="programme", field="programme_code"
    )
    if cmd.occupation not in programme.occupations:
        raise DomainError(
            f"programme {programme.code!r} does not offer {cmd.occupation!r} "
            f"(it offers {', '.join(programme.occupations)})",
            field="occupation",
        )
    domain.check_day_plan(cmd.days, cmd.day_plan)
    if cmd.min_attendance_days > cmd.days:
        raise DomainError(
            f"min_attendance_days {cmd.min_attendance_days} exceeds the {cmd.days} course days",
            field="completion.min_attendance_days",
        )
    course = Course(code=cmd.code, created_at=datetime.now(UTC), **fields)  # type: ignore[arg-type]
    session.add(course)
    return Created(course, created=True)


@dataclass(frozen=True)
class NewCohort:
    code: str
    course_code: str
    venue_kind: str
    venue_code: str
    venue_name: str | None
    starts_on: date
    dates: list[date] | None
    capacity: int
    village_cap: int | None
    one_per_household: bool
    trainer_ids: list[str]


async def create_cohort(session: AsyncSession, cmd: NewCohort) -> Created:
    course = await session.get(Course, cmd.course_code)
    existing = await session.get(Cohort, cmd.code)
    if course is None:
        raise NotFound(f"no course {cmd.course_code!r}", field="course_code")
    dates = domain.cohort_dates(course.days, cmd.starts_on, cmd.dates)
    fields = {
        "course_code": cmd.course_code,
        "venue_kind": cmd.venue_kind,
        "venue_code": cmd.venue_code,
        "venue_name": cmd.venue_name,
        "dates": [d.isoformat() for d in dates],
        "capacity": cmd.capacity,
        "village_cap": cmd.village_cap,
        "one_per_household": cmd.one_per_household,
        "trainer_ids": cmd.trainer_ids,
    }
    if existing is not None:
        _same_or_conflict(existing, fields, f"cohort {cmd.code!r}")
        return Created(existing, created=False)
    await _check_trainers(session, cmd.trainer_ids, course.occupation)
    cohort = Cohort(
        code=cmd.code,
        programme_code=course.programme_code,
        occupation=course.occupation,
        status=CohortStatus.OPEN,
        created_at=datetime.now(UTC),
        **fields,  # type: ignore[arg-type]
    )
    session.add(cohort)
    stage(
        session,
        CohortScheduled(
            cohort_code=cohort.code,
            scheduled_at=cohort.created_at,
            **copied(
                cohort,
                "programme_code",
                "course_code",
                "occupation",
                "venue_kind",
                "venue_code",
                "venue_name",
                "capacity",
                "village_cap",
            ),
            dates=dates,
        ),
    )
    return Created(cohort, created=True)


async def _check_trainers(session: AsyncSession, trainer_ids: list[str], occupation: str) -> None:
    if len(set(trainer_ids)) != len(trainer_ids):
        raise DomainError("a trainer is listed twice", field="trainer_ids")
    known = {
        t.trainer_id: t
        for t in (
            await session.exec(
                select(KnownTrainer).where(col(KnownTrainer.trainer_id).in_(trainer_ids))
            )
        ).all()
    }
    for i, trainer_id in enumerate(trainer_ids):
        trainer = known.get(trainer_id)
        if trainer is None:
            raise NotFound(
                f"trainer {trainer_id} is not on the register known to training",
                field=f"trainer_ids.{i}",
            )
        if occupation not in trainer.occupations:
            raise DomainError(
                f"trainer {trainer_id} does not teach {occupation!r} "
                f"(teaches {', '.join(trainer.occupations) or 'nothing listed'})",
                field=f"trainer_ids.{i}",
            )
