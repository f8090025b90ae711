"""Programmes (with achievement against target), courses and cohorts."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from services.training.domain import DayPlanEntry
from services.training.handlers import lookups, reports, setup
from services.training.schemas import (
    AchievementOut,
    CohortIn,
    CohortOut,
    CompletionRuleIn,
    CourseIn,
    CourseOut,
    DayPlanIn,
    ProgrammeIn,
    ProgrammeOut,
    ProgressOut,
    VenueIn,
)
from services.training.tables import Cohort, Course
from shared.auth import Db, ReadKey, WriteKey


def _course(row: Course) -> CourseOut:
    return CourseOut(
        **row.model_dump(exclude={"day_plan", "min_attendance_days", "practical_required"}),
        day_plan=[DayPlanIn(**entry) for entry in row.day_plan],
        completion=CompletionRuleIn(
            min_attendance_days=row.min_attendance_days, practical_required=row.practical_required
        ),
    )


def cohort_out(row: Cohort, counts: dict[str, int]) -> CohortOut:
    return CohortOut(
        **row.model_dump(exclude={"venue_kind", "venue_code", "venue_name"}),
        venue=VenueIn(kind=row.venue_kind, code=row.venue_code, name=row.venue_name),
        counts=counts,
    )


def _status(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200  # the same request again: 200


router = APIRouter(tags=["programmes"])


@router.post("/programmes", status_code=201, response_model=ProgrammeOut)
async def create_programme(
    body: ProgrammeIn, response: Response, _: WriteKey, db: Db
) -> ProgrammeOut:
    cmd = setup.NewProgramme(
        **body.model_dump(exclude={"targets"}),
        targets=[setup.Target(**t.model_dump()) for t in body.targets],
    )
    async with db.transaction() as session:
        result = await setup.create_programme(session, cmd)
        _status(response, result.created)
        return ProgrammeOut.of(result.row)


@router.get("/programmes", response_model=list[ProgrammeOut])
async def list_programmes(
    _: ReadKey,
    db: Db,
    year: int | None = Query(None, ge=2000, le=2100),
    owner_code: str | None = Query(None, max_length=64),
) -> list[ProgrammeOut]:
    async with db.transaction() as session:
        return [ProgrammeOut.of(p) for p in await lookups.programmes(session, year, owner_code)]


@router.get("/programmes/{code}", response_model=ProgrammeOut)
async def read_programme(code: str, _: ReadKey, db: Db) -> ProgrammeOut:
    async with db.transaction() as session:
        return ProgrammeOut.of(await lookups.programme(session, code))


@router.get("/programmes/{code}/achievement", response_model=AchievementOut)
async def achievement(code: str, _: ReadKey, db: Db) -> AchievementOut:
    async with db.transaction() as session:
        programme, total, places = await reports.achievement(session, code)
    return AchievementOut(
        programme_code=programme.code,
        year=programme.year,
        target=total.target,
        completed=total.completed,
        percent=total.percent,
        places=[ProgressOut(**p.__dict__, percent=p.percent) for p in places],
    )


@router.post("/courses", status_code=201, response_model=CourseOut)
async def create_course(body: CourseIn, response: Response, _: WriteKey, db: Db) -> CourseOut:
    cmd = setup.NewCourse(
        **body.model_dump(exclude={"day_plan", "completion"}),
        day_plan=[DayPlanEntry(**d.model_dump()) for d in body.day_plan],
        min_attendance_days=body.completion.min_attendance_days,
        practical_required=body.completion.practical_required,
    )
    async with db.transaction() as session:
        result = await setup.create_course(session, cmd)
        _status(response, result.created)
        return _course(result.row)


@router.get("/courses/{code}", response_model=CourseOut)
async def read_course(code: str, _: ReadKey, db: Db) -> CourseOut:
    async with db.transaction() as session:
        return _course(await lookups.course(session, code))


@router.post("/cohorts", status_code=201, response_model=CohortOut)
async def create_cohort(body: CohortIn, response: Response, _: WriteKey, db: Db) -> CohortOut:
    cmd = setup.NewCohort(
        **body.model_dump(exclude={"venue"}),
        venue_kind=body.venue.kind,
        venue_code=body.venue.code,
        venue_name=body.venue.name,
    )
    async with db.transaction() as session:
        result = await setup.create_cohort(session, cmd)
        _status(response, result.created)
        counts = await reports.status_counts(session, result.row.code)
        return cohort_out(result.row, counts)


@router.get("/cohorts", response_model=list[CohortOut])
async def list_cohorts(
    _: ReadKey,
    db: Db,
    programme_code: str | None = Query(None, max_length=64),
    status: Literal["open", "selected", "closed"] | None = Query(None),
) -> list[CohortOut]:
    async with db.transaction() as session:
        rows = await lookups.cohorts(session, programme_code, status)
        counts = await reports.counts_by_cohort(session, [c.code for c in rows])
    return [cohort_out(c, counts[c.code]) for c in rows]


@router.get("/cohorts/{code}", response_model=CohortOut)
async def read_cohort(code: str, _: ReadKey, db: Db) -> CohortOut:
    async with db.transaction() as session:
        row = await lookups.cohort(session, code)
        return cohort_out(row, await reports.status_counts(session, code))
