"""Training rules: fair selection, the application life cycle, completion. Pure: no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from shared.errors import Conflict, DomainError


class ApplicationStatus(StrEnum):
    APPLIED = "applied"  # before the cohort's selection has run
    ENROLLED = "enrolled"  # holds a seat
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


OPEN_STATUSES = frozenset(
    {ApplicationStatus.APPLIED, ApplicationStatus.ENROLLED, ApplicationStatus.WAITLISTED}
)


class CohortStatus(StrEnum):
    OPEN = "open"  # taking applications; nobody seated yet
    SELECTED = "selected"  # seats given; later applications are placed at once
    CLOSED = "closed"  # completion evaluated; nothing changes any more


# Cohorts meet in Thailand, which keeps UTC+7 all year: "today" is the date there.
THAILAND = timezone(timedelta(hours=7), "ICT")


def today_in_thailand(now: datetime) -> date:
    return now.astimezone(THAILAND).date()


def check_attended_day(day: date, today: date, index: int) -> None:
    """Attendance is recorded for days that have come, never ahead of them."""
    if day > today:
        raise DomainError(
            f"{day} is in the future (today is {today}): attendance is recorded on or after "
            "the day",
            field=f"records.{index}.date",
        )


def check_closable(code: str, dates: Sequence[str], seated: int, today: date) -> None:
    """A cohort closes (completion decided) once its last day has come, with learners."""
    last = date.fromisoformat(max(dates))
    if today < last:
        raise Conflict(
            f"cohort {code} runs until {last} (today is {today}): it can close on its last "
            "day or later",
            cohort_status="running",
        )
    if seated == 0:
        raise Conflict(
            f"cohort {code} has nobody seated: there is no completion to decide",
            cohort_status="empty",
        )


ACTIVITIES = (
    "knowledge-transfer",
    "demonstration",
    "study-visit",
    "home-practice",
    "workshop-practice",
)


@dataclass(frozen=True)
class DayPlanEntry:
    from_day: int
    to_day: int
    activity: str


def check_day_plan(days: int, plan: Sequence[DayPlanEntry]) -> None:
    """The plan must cover days 1..days once each, in order (days 1-3, 4, 5 ...)."""
    expected = 1
    for index, entry in enumerate(plan):
        if entry.from_day != expected or entry.to_day < entry.from_day:
            raise DomainError(
                f"day plan entry {index} covers days {entry.from_day}-{entry.to_day}; "
                f"expected it to start at day {expected}",
                field=f"day_plan.{index}",
            )
        expected = entry.to_day + 1
    if expected != days + 1:
        raise DomainError(
            f"the day plan covers days 1-{expected - 1} but the course has {days} days",
            field="day_plan",
        )


def cohort_dates(days: int, starts_on: date, dates: Sequence[date] | None) -> list[date]:
    """The cohort's teaching days: given explicitly, or `days` consecutive days."""
    if dates is None:
        return [starts_on + timedelta(days=i) for i in range(days)]
    chosen = sorted(dates)
    if len(set(chosen)) != len(chosen):
        raise DomainError("cohort dates repeat a day", field="dates")
    if len(chosen) != days:
        raise DomainError(
            f"the course has {days} days but {len(chosen)} dates were given", field="dates"
        )
    if chosen[0] != starts_on:
        raise DomainError("starts_on must be the first of the dates", field="starts_on")
    return chosen


# --- selection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """What selection knows of one applicant, frozen when the applicant is ranked."""

    application_id: str
    person_id: str
    applied_at: datetime
    village_code: str | None
    household_id: str | None
    income_band: str | None  # None: no household income on record
    band_floor: int | None
    band_ceiling: int | None

    def rank_key(self) -> tuple[int, int, datetime, str]:
        # Lowest income first; unknown income after every known one; then first come;
        # the id only breaks exact ties so the order is total and reproducible.
        unknown = self.band_floor is None
        return (int(unknown), self.band_floor or 0, self.applied_at, self.application_id)


@dataclass(frozen=True)
class Rules:
    capacity: int
    village_cap: int | None
    one_per_household: bool


@dataclass
class Seats:
    """Who holds a seat now, by village and household: what the caps are checked against."""

    rules: Rules
    taken: int = 0
    by_village: Counter[str] = field(default_factory=Counter)
    households: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, rules: Rules, holders: Iterable[Candidate]) -> Seats:
        seats = cls(rules)
        for holder in holders:
            seats.take(holder)
        return seats

    def take(self, c: Candidate) -> None:
        self.taken += 1
        if c.village_code is not None:
            self.by_village[c.village_code] += 1
        if c.household_id is not None:
            self.households.add(c.household_id)

    def blocker(self, c: Candidate) -> str | None:
        """Why `c` cannot have a seat now, or None if one fits."""
        if self.taken >= self.rules.capacity:
            return f"cohort full ({self.rules.capacity} seats)"
        cap = self.rules.village_cap
        if (
            cap is not None
            and c.village_code is not None
            and self.by_village[c.village_code] >= cap
        ):
            return f"village {c.village_code} already has its {cap} seats"
        if self.rules.one_per_household and c.household_id in self.households:
            return "another member of the household holds a seat"
        return None


@dataclass(frozen=True)
class Placement:
    candidate: Candidate
    rank: int  # 1-based position in the whole ranking
    seated: bool
    reason: str  # why seated, or why waitlisted


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=Candidate.rank_key)


def select(candidates: Iterable[Candidate], rules: Rules) -> list[Placement]:
    """Seat applicants in rank order while they fit the rules; waitlist everyone else."""
    seats = Seats(rules)
    placements = []
    for position, candidate in enumerate(rank(candidates), start=1):
        blocker = seats.blocker(candidate)
        if blocker is None:
            seats.take(candidate)
            placements.append(Placement(candidate, position, True, "a seat was free"))
        else:
            placements.append(Placement(candidate, position, False, blocker))
    return placements


def place_late(candidate: Candidate, seats: Seats) -> str | None:
    """An application after selection: seated at once if it fits (returns None), else the
    reason it waits. Waitlisted applicants who would fit were promoted already, so a
    newcomer never jumps a better-ranked one."""
    return seats.blocker(candidate)


def next_to_promote(waitlist: Iterable[Candidate], seats: Seats) -> Candidate | None:
    """The best-ranked waitlisted applicant who fits the seats now."""
    for candidate in rank(waitlist):
        if seats.blocker(candidate) is None:
            return candidate
    return None


def explain(c: Candidate, rank_: int, total: int, status: str, reason: str, rules: Rules) -> str:
    """One sentence an applicant can read: where they ranked and why."""
    if c.band_floor is None:
        income = "no household income on record, so ranked after every applicant with one"
    elif c.band_ceiling is None:
        income = f"household income band {c.income_band} ({c.band_floor:,}+ THB a month)"
    else:
        income = (
            f"household income band {c.income_band} "
            f"({c.band_floor:,}-{c.band_ceiling - 1:,} THB a month)"
        )
    cap = f"at most {rules.village_cap} per village" if rules.village_cap is not None else "no cap"
    return (
        f"Ranked {rank_} of {total}: {income}; ties go to the earlier application "
        f"({c.applied_at.isoformat(timespec='seconds')}). Seats: {rules.capacity}, {cap}"
        f"{', one per household' if rules.one_per_household else ''}. {status}: {reason}."
    )


# --- life cycle and completion -------------------------------------------------------------


def withdraw(current: str) -> None:
    if current not in OPEN_STATUSES:
        raise Conflict(f"the application is {current}; it cannot be withdrawn", status=current)


@dataclass(frozen=True)
class CompletionRule:
    min_attendance_days: int
    practical_required: bool


def evaluate(rule: CompletionRule, days_attended: int, practical_passed: bool | None) -> str | None:
    """None if the learner completed, else the reason they did not."""
    reasons = []
    if days_attended < rule.min_attendance_days:
        reasons.append(
            f"attended {days_attended} day(s); the course needs {rule.min_attendance_days}"
        )
    if rule.practical_required and practical_passed is not True:
        reasons.append(
            "practical not passed" if practical_passed is False else "no practical result"
        )
    return "; ".join(reasons) or None
