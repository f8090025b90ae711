"""The figures' shapes: what `/api/figures/<name>` answers, what the CSV download
flattens and what the page draws. Durations are in seconds; the page formats them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.types import Text

# The funnel's stages, in order. Per programme, "registered" counts the applicants the
# registry told of (everyone who applies is registered); overall it counts everyone.
STAGES = (
    "registered",
    "applied",
    "enrolled",
    "completed",
    "certified",
    "referred",
    "acknowledged",
    "approved",
    "disbursed",
)
Stage = Literal[
    "registered",
    "applied",
    "enrolled",
    "completed",
    "certified",
    "referred",
    "acknowledged",
    "approved",
    "disbursed",
]
# Where a journey stopped, and the reason's kind.
DropKind = Literal[
    "waitlisted",
    "withdrew",
    "not-completed",
    "failed-units",
    "held-for-consent",
    "declined",
    "expired",
    "cancelled",
]


class Filters(BaseModel):
    """Query parameters every figure takes; None: all."""

    programme: Text | None = Field(default=None, max_length=64)
    year: int | None = Field(default=None, ge=1900, le=2200, description="Gregorian year")
    province: Text | None = Field(default=None, max_length=2, description="TIS 1099 code")
    occupation: Text | None = Field(default=None, max_length=64)
    lender: Text | None = Field(default=None, max_length=32)


class StageCount(BaseModel):
    stage: Stage
    people: int


class DropOut(BaseModel):
    kind: DropKind
    reason: str = Field(description="The reason given (a code, a unit, or the kind again)")
    people: int


class Funnel(BaseModel):
    programme_code: str | None = Field(description="None: all programmes")
    programme_name: str | None
    stages: list[StageCount]
    drop_outs: list[DropOut]


class FunnelFigure(BaseModel):
    overall: Funnel
    programmes: list[Funnel]


class TargetRow(BaseModel):
    programme_code: str
    programme_name: str
    year: int
    place_kind: Literal["programme", "estate", "province", "village"]
    place_code: str | None = Field(description="None for the programme's own total")
    place_name: str | None
    target: int
    achieved: int = Field(description="People who completed the training")
    percent: float = Field(description="achieved / target x 100, one decimal")


class TargetsFigure(BaseModel):
    rows: list[TargetRow]


Step = Literal[
    "completion_to_certificate",
    "certificate_to_referral",
    "referral_to_decision",
    "decision_to_disbursement",
    "completion_to_disbursement",
]
STEPS: tuple[Step, ...] = (
    "completion_to_certificate",
    "certificate_to_referral",
    "referral_to_decision",
    "decision_to_disbursement",
    "completion_to_disbursement",
)


class StepTime(BaseModel):
    step: Step
    n: int = Field(description="Referrals that made this step")
    median_seconds: float | None
    p90_seconds: float | None


class TimeToCreditRow(BaseModel):
    lender_code: str
    lender_name: str | None
    product_code: str
    product_name: str | None
    sla_days: int | None = Field(description="Days the lender has to decide, from the product")
    referrals: int
    breached: int = Field(description="Decided after the SLA, or undecided past it")
    steps: list[StepTime]


class TimeToCreditFigure(BaseModel):
    rows: list[TimeToCreditRow]


class LenderRow(BaseModel):
    lender_code: str
    lender_name: str | None
    product_code: str
    product_name: str | None
    referrals: int = Field(description="Created or held")
    held: int = Field(description="Still waiting for consent")
    acknowledged: int
    approved: int
    declined: int
    approval_rate: float | None = Field(description="approved / decided x 100; None: none decided")
    disbursed: int
    amount_approved: int = Field(description="THB")
    amount_disbursed: int = Field(description="THB")


class LendersFigure(BaseModel):
    rows: list[LenderRow]


class BandRow(BaseModel):
    income_band: str | None = Field(description="The household's band when ranked; None: unknown")
    band_floor: int | None
    applied: int
    enrolled: int
    waitlisted: int


class VillageSeatsRow(BaseModel):
    programme_code: str
    cohort_code: str
    village_code: str | None
    village_name: str | None
    enrolled: int
    village_cap: int | None


class SelectionFigure(BaseModel):
    bands: list[BandRow]
    villages: list[VillageSeatsRow]


class OutcomeRow(BaseModel):
    """One community (village): its trained households' income band before and after."""

    programme_code: str
    village_code: str | None
    village_name: str | None
    province_code: str | None
    households: int = Field(description="Households with a member who completed the training")
    improved: int = Field(description="A higher band recorded after the training")
    unchanged: int
    lower: int
    no_record_after: int
    before: dict[str, int] = Field(description="Band -> households, the last band before")
    after: dict[str, int] = Field(description="Band -> households, the last band after")


class OutcomesFigure(BaseModel):
    rows: list[OutcomeRow]


class Figures(BaseModel):
    """Every figure at once, as the page draws them."""

    as_of: datetime | None = Field(description="When the newest event the model holds happened")
    events: int = Field(description="Events the read model has taken in")
    funnel: FunnelFigure
    targets: TargetsFigure
    time_to_credit: TimeToCreditFigure
    lenders: LendersFigure
    selection: SelectionFigure
    outcomes: OutcomesFigure
