"""Eligibility rules as data, their evaluation, and the referral state machine. Pure: no I/O.

A product's rules are a JSON document (`Rules`), versioned per product. Evaluating them for
a person gives one `Clause` per rule clause, passed or not, with a text that says why; the
texts of the passed clauses are stored on the referral and carried in its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from shared.errors import Conflict, DomainError
from shared.types import MAX_MONEY

LOAN_REFERRAL = "loan-referral"

# Coded reasons a lender may give for a decline (partner API, LoanDeclined.reason_code).
DECLINE_REASONS = frozenset(
    {
        "insufficient-income",
        "existing-debt",
        "incomplete-documents",
        "not-reachable",
        "outside-policy",
        "applicant-withdrew",
        "other",
    }
)


# A lender's calendar may be on any clock: a date counts as "on or after the approval" or
# "not after today" if it is so somewhere on Earth (UTC-12 .. UTC+14), so a lender is never
# refused for its time zone; a date a day or more out is.
_EARLIEST, _LATEST = timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))


def check_disbursement(
    amount: int, on: date, approved_amount: int | None, approved_at: datetime, now: datetime
) -> None:
    """A disbursement pays at most the approved amount, dated from the approval to today."""
    if approved_amount is not None and amount > approved_amount:
        raise DomainError(
            f"amount {amount:,} exceeds the approved {approved_amount:,} THB", field="amount"
        )
    approved_on = approved_at.astimezone(_EARLIEST).date()
    today = now.astimezone(_LATEST).date()
    if on < approved_on:
        raise DomainError(
            f"disbursed_on {on} is before the approval ({approved_on})", field="disbursed_on"
        )
    if on > today:
        raise DomainError(f"disbursed_on {on} is in the future", field="disbursed_on")


# --- rules as data ------------------------------------------------------------------------


class AgeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: StrictInt | None = Field(default=None, ge=0, le=120)
    max: StrictInt | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("age.min must not exceed age.max")
        return self


class Rules(BaseModel):
    """One version of a product's eligibility rules (the document operators write)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    occupations: list[str] | None = Field(
        default=None, description="Occupation codes; null: any occupation", min_length=1
    )
    min_level: StrictInt = Field(default=1, ge=1, le=8, description="Lowest qualification level")
    provinces: list[str] | None = Field(
        default=None, description="TIS 1099 province codes; null: anywhere", min_length=1
    )
    max_income_band_ceiling: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_MONEY,
        description="The household's income band must end at or below this (THB a month); "
        "null: no income clause. An unknown income or an open-ended band fails it.",
    )
    age: AgeRange | None = Field(default=None, description="Age in years (this year - birth year)")
    certificate_valid: StrictBool = Field(
        default=True, description="The certificate must be in force"
    )
    required_consent: str = Field(
        default=LOAN_REFERRAL,
        description="Consent purpose that must cover the lender; without it the referral waits",
    )
    cooldown_days: StrictInt = Field(
        default=90, ge=0, le=3650, description="No new referral this long after a decline"
    )
    sla_days: StrictInt = Field(
        default=30, ge=0, le=365, description="The lender must decide within this; else expired"
    )


# --- facts the rules read -----------------------------------------------------------------


@dataclass(frozen=True)
class QualificationFact:
    certificate_number: str
    occupation: str
    level: int
    valid_until: date
    in_force: bool = True  # False once revoked or expired


@dataclass(frozen=True)
class ConsentFact:
    purpose: str
    lender_code: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class PersonFacts:
    """What funding's replica knows about one person (None: not known yet)."""

    province_code: str | None = None
    birth_year: int | None = None
    income_known: bool = False
    income_band_ceiling: int | None = None  # None with income_known: open-ended top band
    qualifications: Sequence[QualificationFact] = ()
    consents: Sequence[ConsentFact] = ()


@dataclass(frozen=True)
class Clause:
    name: str  # occupation, level, certificate, province, age, income, cool-down, consent
    passed: bool
    text: str
    # The fact the clause could not be decided without (birth_date, household_income,
    # province): failed for want of it, not on its value.
    missing: str | None = None


@dataclass(frozen=True)
class Evaluation:
    qualification: QualificationFact | None
    clauses: list[Clause] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.clauses if not c.passed]

    @property
    def eligible(self) -> bool:
        """Every clause passed: refer now."""
        return self.qualification is not None and not self.failed

    @property
    def held(self) -> bool:
        """Everything but the consent passed: the referral waits for it."""
        return self.qualification is not None and self.failed == ["consent"]

    @property
    def matched(self) -> list[str]:
        return [c.text for c in self.clauses if c.passed]

    @property
    def blocked_by(self) -> list[Clause]:
        """The clauses a missing fact fails, when nothing else does (the consent aside): the
        person would be referred, or held for consent, once the fact is recorded."""
        if self.qualification is None:
            return []
        failed = [c for c in self.clauses if not c.passed]
        missing = [c for c in failed if c.missing]
        if missing and all(c.missing or c.name == "consent" for c in failed):
            return missing
        return []


def consent_covers(
    consents: Iterable[ConsentFact], lender_code: str, now: datetime, purpose: str = LOAN_REFERRAL
) -> bool:
    """True when some live consent for `purpose` names this lender or any lender."""
    return any(
        c.purpose == purpose
        and c.lender_code in (None, lender_code)
        and (c.expires_at is None or c.expires_at > now)
        for c in consents
    )


def _qualification_clauses(rules: Rules, q: QualificationFact, today: date) -> list[Clause]:
    occupations = rules.occupations
    clauses = [
        Clause(
            "occupation",
            occupations is None or q.occupation in occupations,
            f"occupation {q.occupation}"
            + ("" if occupations is None else f" in {sorted(occupations)}"),
        ),
        Clause("level", q.level >= rules.min_level, f"level {q.level} >= {rules.min_level}"),
    ]
    if rules.certificate_valid:
        clauses.append(
            Clause(
                "certificate",
                q.in_force and q.valid_until >= today,
                f"certificate {q.certificate_number} valid until {q.valid_until.isoformat()}",
            )
        )
    return clauses


def _person_clauses(
    rules: Rules,
    person: PersonFacts,
    lender_code: str,
    now: datetime,
    last_declined_at: datetime | None,
) -> list[Clause]:
    clauses = []
    if rules.provinces is not None:
        clauses.append(
            Clause(
                "province",
                person.province_code in rules.provinces,
                f"province {person.province_code or 'unknown'} in {sorted(rules.provinces)}",
                missing=None if person.province_code else "province",
            )
        )
    if rules.age is not None:
        age = None if person.birth_year is None else now.year - person.birth_year
        low, high = rules.age.min, rules.age.max
        clauses.append(
            Clause(
                "age",
                age is not None and (low is None or age >= low) and (high is None or age <= high),
                f"age {age if age is not None else 'unknown'} in "
                f"{low if low is not None else 0}-{high if high is not None else 'any'}",
                missing="birth_date" if age is None else None,
            )
        )
    if rules.max_income_band_ceiling is not None:
        ceiling = person.income_band_ceiling
        if not person.income_known:
            text = "household income unknown"
        elif ceiling is None:
            text = "household income band is open-ended"
        else:
            text = f"household income band ceiling {ceiling} <= {rules.max_income_band_ceiling}"
        clauses.append(
            Clause(
                "income",
                person.income_known
                and ceiling is not None
                and ceiling <= rules.max_income_band_ceiling,
                text,
                missing=None if person.income_known else "household_income",
            )
        )
    if last_declined_at is not None:
        until = last_declined_at + timedelta(days=rules.cooldown_days)
        clauses.append(
            Clause(
                "cool-down",
                now >= until,
                f"cool-down of {rules.cooldown_days} days after the decline of "
                f"{last_declined_at.date().isoformat()}",
            )
        )
    clauses.append(
        Clause(
            "consent",
            consent_covers(person.consents, lender_code, now, rules.required_consent),
            f"consent {rules.required_consent} covers {lender_code}",
        )
    )
    return clauses


def evaluate(
    rules: Rules,
    person: PersonFacts,
    lender_code: str,
    now: datetime,
    last_declined_at: datetime | None = None,
) -> Evaluation:
    """The person against the rules, with the qualification that fits best.

    The highest-level qualification that passes its own clauses is used; if none does,
    the evaluation reports the one with the fewest failing clauses (to explain why not).
    """
    today = now.date()
    person_clauses = _person_clauses(rules, person, lender_code, now, last_declined_at)
    candidates = sorted(
        person.qualifications, key=lambda q: (-q.level, q.valid_until, q.certificate_number)
    )
    best: Evaluation | None = None
    for qualification in candidates:
        own = _qualification_clauses(rules, qualification, today)
        evaluation = Evaluation(qualification, own + person_clauses)
        if all(c.passed for c in own):
            return evaluation
        if best is None or len(evaluation.failed) < len(best.failed):
            best = evaluation
    if best is not None:
        return best
    return Evaluation(None, [Clause("qualification", False, "no qualification"), *person_clauses])


# --- the referral lifecycle ---------------------------------------------------------------


class Status(StrEnum):
    HELD = "held"
    CREATED = "created"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    APPROVED = "approved"
    DECLINED = "declined"
    DISBURSED = "disbursed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


S = Status
# Every legal step; anything else is refused (409) and changes nothing. A lender acting on a
# referral it was never told of through a channel first makes it delivered (channel "api").
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.HELD: frozenset({S.CREATED, S.CANCELLED}),
    S.CREATED: frozenset({S.DELIVERED, S.EXPIRED, S.CANCELLED}),
    S.DELIVERED: frozenset({S.ACKNOWLEDGED, S.EXPIRED, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.APPROVED, S.DECLINED, S.EXPIRED, S.CANCELLED}),
    S.APPROVED: frozenset({S.DISBURSED, S.CANCELLED}),
    S.DECLINED: frozenset(),
    S.DISBURSED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN = frozenset(s for s, onward in TRANSITIONS.items() if onward)
# Before a decision: the SLA clock runs.
AWAITING_DECISION = frozenset({S.CREATED, S.DELIVERED, S.ACKNOWLEDGED})
# The lender's channel knows of the referral (not held).
VISIBLE_TO_LENDER = frozenset(Status) - {S.HELD}


class IllegalTransition(Conflict):
    """409: the referral's state does not allow this step."""


def transition(current: str, target: Status) -> Status:
    """The new status, or IllegalTransition (nothing changes)."""
    status = Status(current)
    if target not in TRANSITIONS[status]:
        allowed = sorted(TRANSITIONS[status])
        raise IllegalTransition(
            f"a {status} referral cannot become {target}",
            field="status",
            status=status.value,
            allowed=allowed,
        )
    return target


def blocks_new_referral(status: str) -> bool:
    """Whether a past referral for the same person and product rules out a new one: an
    open one (never two open), or a disbursed one (the loan was made). Declines and expiries
    block only for the cool-down, which is a rule clause; a cancellation never blocks."""
    return status in OPEN or status == S.DISBURSED
