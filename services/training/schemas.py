"""Request and response bodies of the training API (validation lives here, once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from services.training.domain import ACTIVITIES
from shared.types import Input, Output, SafeDate

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["ieat-2019"])]
PlaceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
PersonId = Annotated[str, Field(min_length=1, max_length=36)]
Activity = Literal[ACTIVITIES]  # type: ignore[valid-type]


class Strict(Input):
    """Unknown fields refused, text NFC without invisible characters (shared/types.py)."""


class TargetIn(Strict):
    place_kind: Literal["estate", "province", "village"]
    place_code: PlaceCode
    target: StrictInt = Field(ge=1, le=10_000_000)


class ProgrammeIn(Strict):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    owner_code: Code = Field(description="a programme-owner or training-partner organisation")
    year: StrictInt = Field(ge=2000, le=2100, description="Gregorian year")
    occupations: list[Code] = Field(min_length=1, max_length=50)
    target_total: StrictInt = Field(ge=1, le=10_000_000)
    targets: list[TargetIn] = Field(default_factory=list, max_length=1000)


class ProgrammeOut(Output):
    code: str
    name: str
    owner_code: str
    year: int
    occupations: list[str]
    target_total: int
    created_at: datetime


class ProgressOut(BaseModel):
    place_kind: str | None = None
    place_code: str | None = None
    target: int
    completed: int
    percent: float


class AchievementOut(BaseModel):
    programme_code: str
    year: int
    target: int
    completed: int = Field(description="learners with TrainingCompleted in this programme")
    percent: float
    places: list[ProgressOut]


class DayPlanIn(Strict):
    from_day: StrictInt = Field(ge=1, le=365)
    to_day: StrictInt = Field(ge=1, le=365)
    activity: Activity


class CompletionRuleIn(Strict):
    min_attendance_days: StrictInt = Field(ge=0, le=365)
    practical_required: StrictBool = False


class CourseIn(Strict):
    code: Code
    programme_code: Code
    occupation: Code
    title: str = Field(min_length=1, max_length=200)
    days: StrictInt = Field(ge=1, le=365)
    hours: StrictInt = Field(ge=1, le=2000)
    day_plan: list[DayPlanIn] = Field(min_length=1, max_length=365)
    completion: CompletionRuleIn


class CourseOut(BaseModel):
    code: str
    programme_code: str
    occupation: str
    title: str
    days: int
    hours: int
    day_plan: list[DayPlanIn]
    completion: CompletionRuleIn
    created_at: datetime


class VenueIn(Strict):
    kind: Literal["estate", "learning-centre", "village"]
    code: PlaceCode
    name: str | None = Field(default=None, max_length=200)


class CohortIn(Strict):
    code: Code
    course_code: Code
    venue: VenueIn
    starts_on: SafeDate
    dates: list[SafeDate] | None = Field(default=None, max_length=365)
    capacity: StrictInt = Field(ge=1, le=100_000)
    village_cap: StrictInt | None = Field(
        default=20,
        ge=1,
        le=100_000,
        description="seats per village (the CDD model: 20); null: no cap",
    )
    one_per_household: StrictBool = Field(default=True, description="selection picks households")
    trainer_ids: list[str] = Field(default_factory=list, max_length=50)


class CohortOut(BaseModel):
    code: str
    course_code: str
    programme_code: str
    occupation: str
    venue: VenueIn
    dates: list[date]
    capacity: int
    village_cap: int | None
    one_per_household: bool
    trainer_ids: list[str]
    status: str
    counts: dict[str, int]
    created_at: datetime
    selected_at: datetime | None
    closed_at: datetime | None


class ApplicationIn(Strict):
    person_id: PersonId


class BatchIn(Strict):
    person_ids: list[PersonId] = Field(min_length=1, max_length=5000)


class ApplicationOut(BaseModel):
    application_id: str
    person_id: str
    cohort_code: str
    programme_code: str
    status: str
    applied_at: datetime
    rank: int | None = Field(description="current place in the cohort's ranking (1 = first)")
    waitlist_position: int | None
    why: str = Field(description="where the applicant ranked and why")
    days_attended: int | None
    practical_passed: bool | None


class ItemError(BaseModel):
    status: int
    detail: str


class BatchItem(BaseModel):
    person_id: str
    application_id: str | None = None
    status: str | None = None
    error: ItemError | None = None


class BatchOut(BaseModel):
    created: int
    existing: int
    failed: int
    results: list[BatchItem]


class SelectionOut(BaseModel):
    cohort_code: str
    enrolled: int
    waitlisted: int


class WithdrawalIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class WithdrawalOut(BaseModel):
    application: ApplicationOut
    promoted: list[ApplicationOut]


class MarkIn(Strict):
    person_id: PersonId
    date: SafeDate
    present: StrictBool


class AttendanceIn(Strict):
    records: list[MarkIn] = Field(min_length=1, max_length=10_000)


class PracticalIn(Strict):
    person_id: PersonId
    passed: StrictBool


class PracticalsIn(Strict):
    results: list[PracticalIn] = Field(min_length=1, max_length=10_000)


class RecordedOut(BaseModel):
    recorded: int


class OutcomeOut(BaseModel):
    person_id: str
    application_id: str
    completed: bool
    days_attended: int | None
    reason: str | None


class ClosureOut(BaseModel):
    cohort_code: str
    completed: int
    not_completed: int
    outcomes: list[OutcomeOut]


# --- PDPA subject access: what training holds about one person ---------------------------


class KnownPersonOut(Output):
    """The registry's replica of the person, as training keeps it."""

    status: str
    province_code: str
    village_code: str | None
    registered_at: datetime


class HeldApplicationOut(Output):
    """An application with the ranking inputs frozen when it was ranked."""

    application_id: str
    cohort_code: str
    programme_code: str
    occupation: str
    status: str
    applied_at: datetime
    updated_at: datetime
    province_code: str | None
    village_code: str | None
    household_id: str | None
    income_band: str | None
    band_floor: int | None
    band_ceiling: int | None
    rank: int | None
    why: str | None
    practical_passed: bool | None
    days_attended: int | None
    outcome_reason: str | None


class HeldAttendanceOut(Output):
    application_id: str
    day: date
    present: bool
    recorded_at: datetime


class HeldTrainerOut(Output):
    trainer_id: str
    occupations: list[str]
    village_code: str | None
    role: str


class TrainingHeld(BaseModel):
    service: Literal["training"] = "training"
    person_id: str
    person: KnownPersonOut | None
    household_id: str | None
    applications: list[HeldApplicationOut]
    attendance: list[HeldAttendanceOut]
    trainer_records: list[HeldTrainerOut]
