"""Selection, day plans and completion rules of the training service (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.training import domain
from services.training.domain import Candidate, CompletionRule, DayPlanEntry, Rules
from shared.errors import Conflict, DomainError

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def applicant(
    n: int, floor: int | None, village: str | None = "v1", household: str | None = None
) -> Candidate:
    return Candidate(
        application_id=f"a{n:03d}",
        person_id=f"p{n}",
        applied_at=T0 + timedelta(minutes=n),
        village_code=village,
        household_id=household or f"h{n}",
        income_band=None if floor is None else f"B{floor}",
        band_floor=floor,
        band_ceiling=None if floor is None else floor + 2000,
    )


def seated(placements: list[domain.Placement]) -> list[str]:
    return [p.candidate.person_id for p in placements if p.seated]


def test_lowest_income_first_then_earlier_application() -> None:
    people = [applicant(1, 4000), applicant(2, 0), applicant(3, 2000), applicant(4, 0)]
    placements = domain.select(people, Rules(capacity=3, village_cap=None, one_per_household=True))
    assert seated(placements) == ["p2", "p4", "p3"]
    assert [p.rank for p in placements] == [1, 2, 3, 4]
    assert placements[-1].reason == "cohort full (3 seats)"


def test_unknown_income_ranks_after_every_known_income() -> None:
    people = [applicant(1, None), applicant(2, 50_000)]
    assert [c.person_id for c in domain.rank(people)] == ["p2", "p1"]


def test_village_cap_and_one_seat_per_household() -> None:
    people = [
        applicant(1, 0, "v1"),
        applicant(2, 0, "v1"),
        applicant(3, 0, "v1"),  # over v1's cap of 2
        applicant(4, 2000, "v2", household="h1"),  # p1's household
        applicant(5, 4000, "v2"),
        applicant(6, 4000, None),  # no village: no village cap applies
    ]
    placements = domain.select(people, Rules(capacity=10, village_cap=2, one_per_household=True))
    assert seated(placements) == ["p1", "p2", "p5", "p6"]
    reasons = {p.candidate.person_id: p.reason for p in placements if not p.seated}
    assert reasons == {
        "p3": "village v1 already has its 2 seats",
        "p4": "another member of the household holds a seat",
    }


def test_promotion_takes_the_best_ranked_who_fits() -> None:
    rules = Rules(capacity=3, village_cap=2, one_per_household=False)
    holders = [applicant(1, 0, "v1"), applicant(2, 0, "v1")]
    waiting = [applicant(5, 4000, "v2"), applicant(3, 2000, "v1")]
    seats = domain.Seats.of(rules, holders)
    best = domain.next_to_promote(waiting, seats)
    assert best is not None and best.person_id == "p5"  # p3 ranks higher but v1 is full


def test_explanation_names_band_tie_break_and_outcome() -> None:
    c = applicant(1, 2000)
    text = domain.explain(
        c, 3, 40, "Waitlisted, position 1", "cohort full (20 seats)", Rules(20, 20, True)
    )
    assert text.startswith("Ranked 3 of 40: household income band B2000 (2,000-3,999 THB")
    assert "earlier application" in text and "cohort full (20 seats)" in text


def test_day_plan_must_cover_every_day_once() -> None:
    plan = [
        DayPlanEntry(1, 3, "knowledge-transfer"),
        DayPlanEntry(4, 4, "study-visit"),
        DayPlanEntry(5, 5, "home-practice"),
    ]
    domain.check_day_plan(5, plan)
    with pytest.raises(DomainError, match="covers days 1-5 but the course has 6"):
        domain.check_day_plan(6, plan)
    with pytest.raises(DomainError) as gap:
        domain.check_day_plan(
            5, [DayPlanEntry(1, 3, "knowledge-transfer"), DayPlanEntry(5, 5, "home-practice")]
        )
    assert gap.value.field == "day_plan.1"


def test_cohort_dates_default_to_consecutive_days() -> None:
    start = date(2026, 12, 1)
    assert domain.cohort_dates(3, start, None) == [start, date(2026, 12, 2), date(2026, 12, 3)]
    weekdays = [date(2026, 12, 4), start]
    assert domain.cohort_dates(2, start, weekdays) == [start, date(2026, 12, 4)]
    with pytest.raises(DomainError):
        domain.cohort_dates(3, start, weekdays)


def test_completion_rule() -> None:
    rule = CompletionRule(min_attendance_days=4, practical_required=True)
    assert domain.evaluate(rule, 5, True) is None
    assert domain.evaluate(rule, 3, True) == "attended 3 day(s); the course needs 4"
    assert domain.evaluate(rule, 5, None) == "no practical result"
    assert domain.evaluate(CompletionRule(4, False), 4, None) is None


def test_only_open_applications_can_be_withdrawn() -> None:
    domain.withdraw("waitlisted")
    with pytest.raises(Conflict):
        domain.withdraw("completed")


def test_no_attendance_ahead_of_the_day_and_no_closing_early_or_empty() -> None:
    today = date(2026, 11, 28)
    domain.check_attended_day(today, today, 0)  # the day itself: fine
    with pytest.raises(DomainError) as ahead:
        domain.check_attended_day(date(2026, 11, 29), today, 3)
    assert ahead.value.field == "records.3.date"
    dates = ["2026-11-24", "2026-11-28"]
    domain.check_closable("c", dates, seated=1, today=today)  # on the last day: fine
    with pytest.raises(Conflict, match="can close on its last day"):
        domain.check_closable("c", [*dates, "2026-11-30"], seated=1, today=today)
    with pytest.raises(Conflict, match="nobody seated"):
        domain.check_closable("c", dates, seated=0, today=today)


def test_today_is_thailands_date() -> None:
    late_evening_utc = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # 01:00 on the 29th there
    assert domain.today_in_thailand(late_evening_utc) == date(2026, 11, 29)
