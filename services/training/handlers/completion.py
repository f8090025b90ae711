"""Attendance, practical results, and completion evaluated when a cohort closes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training import domain
from services.training.domain import ApplicationStatus, CohortStatus, CompletionRule
from services.training.handlers.common import learner_facts, locked_cohort, stage
from services.training.tables import Application, Attendance, Cohort, Course
from shared.errors import Conflict, DomainError
from shared.events import TrainingCompleted, TrainingNotCompleted


@dataclass(frozen=True)
class Mark:
    person_id: str
    day: date
    present: bool


async def _seated(
    session: AsyncSession, cohort: Cohort, person_ids: set[str]
) -> dict[str, Application]:
    rows = (
        await session.exec(
            select(Application).where(
                Application.cohort_code == cohort.code,
                col(Application.person_id).in_(list(person_ids)),
            )
        )
    ).all()
    return {a.person_id: a for a in rows if a.status == ApplicationStatus.ENROLLED}


def _open_for_records(cohort: Cohort) -> None:
    if cohort.status == CohortStatus.CLOSED:
        raise Conflict(f"cohort {cohort.code} is closed; its records are final", status="closed")
    if cohort.status == CohortStatus.OPEN:
        raise Conflict(f"cohort {cohort.code} has no learners yet: run the selection first")


async def record_attendance(session: AsyncSession, cohort_code: str, marks: list[Mark]) -> int:
    """All or nothing: the first bad record (by index) is reported and nothing is kept."""
    cohort = await locked_cohort(session, cohort_code)
    _open_for_records(cohort)
    days = set(cohort.dates)
    seated = await _seated(session, cohort, {m.person_id for m in marks})
    now = datetime.now(UTC)
    today = domain.today_in_thailand(now)
    for i, mark in enumerate(marks):
        if mark.day.isoformat() not in days:
            raise DomainError(
                f"{mark.day} is not a day of cohort {cohort.code} "
                f"({cohort.dates[0]} to {cohort.dates[-1]})",
                field=f"records.{i}.date",
            )
        domain.check_attended_day(mark.day, today, i)
        if mark.person_id not in seated:
            raise DomainError(
                f"person {mark.person_id} holds no seat in cohort {cohort.code}",
                field=f"records.{i}.person_id",
            )
    existing = {
        (a.application_id, a.day): a
        for a in (
            await session.exec(
                select(Attendance).where(
                    col(Attendance.application_id).in_([a.application_id for a in seated.values()])
                )
            )
        ).all()
    }
    for mark in marks:
        key = (seated[mark.person_id].application_id, mark.day)
        row = existing.get(key)
        if row is None:
            row = Attendance(
                application_id=key[0], day=mark.day, present=mark.present, recorded_at=now
            )
            existing[key] = row
        else:  # a correction: the latest record stands
            row.present, row.recorded_at = mark.present, now
        session.add(row)
    return len(marks)


async def record_practicals(
    session: AsyncSession, cohort_code: str, results: list[tuple[str, bool]]
) -> int:
    cohort = await locked_cohort(session, cohort_code)
    _open_for_records(cohort)
    seated = await _seated(session, cohort, {person_id for person_id, _ in results})
    for i, (person_id, _) in enumerate(results):
        if person_id not in seated:
            raise DomainError(
                f"person {person_id} holds no seat in cohort {cohort.code}",
                field=f"results.{i}.person_id",
            )
    for person_id, passed in results:
        seated[person_id].practical_passed = passed
        session.add(seated[person_id])
    return len(results)


@dataclass(frozen=True)
class Outcome:
    application: Application
    completed: bool


async def close(session: AsyncSession, cohort_code: str) -> list[Outcome]:
    """Evaluate every seated learner against the course's completion rule, once."""
    cohort = await locked_cohort(session, cohort_code)
    if cohort.status == CohortStatus.CLOSED:
        raise Conflict(f"cohort {cohort_code} is closed already", status="closed")
    if cohort.status == CohortStatus.OPEN:
        raise Conflict(f"cohort {cohort_code} has no learners: run the selection first")
    course = await session.get(Course, cohort.course_code)
    assert course is not None  # a cohort is created only for an existing course
    rule = CompletionRule(course.min_attendance_days, course.practical_required)
    seated = {
        a.application_id: a
        for a in (
            await session.exec(
                select(Application).where(
                    Application.cohort_code == cohort_code,
                    Application.status == ApplicationStatus.ENROLLED,
                )
            )
        ).all()
    }
    now = datetime.now(UTC)
    domain.check_closable(cohort.code, cohort.dates, len(seated), domain.today_in_thailand(now))
    present: Counter[str] = Counter()
    rows = await session.exec(
        select(Attendance.application_id).where(
            col(Attendance.application_id).in_(list(seated)), col(Attendance.present).is_(True)
        )
    )
    present.update(rows.all())
    outcomes = []
    for app in sorted(seated.values(), key=lambda a: a.rank or 0):
        app.days_attended = present[app.application_id]
        reason = domain.evaluate(rule, app.days_attended, app.practical_passed)
        app.status = ApplicationStatus.NOT_COMPLETED if reason else ApplicationStatus.COMPLETED
        app.outcome_reason = reason
        app.updated_at = now
        session.add(app)
        stage(session, _outcome_event(cohort, course, app, reason, now))
        outcomes.append(Outcome(app, completed=reason is None))
    cohort.status = CohortStatus.CLOSED
    cohort.closed_at = now
    session.add(cohort)
    return outcomes


def _outcome_event(
    cohort: Cohort, course: Course, app: Application, reason: str | None, now: datetime
) -> TrainingCompleted | TrainingNotCompleted:
    common = {
        **learner_facts(app.person_id, cohort),
        "enrolment_id": app.application_id,
        "course_code": course.code,
    }
    if reason is None:
        return TrainingCompleted(
            **common, hours=course.hours, days_attended=app.days_attended, completed_at=now
        )
    return TrainingNotCompleted(**common, reason=reason, recorded_at=now)
