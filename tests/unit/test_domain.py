from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.certification import domain as certification
from services.funding import domain as funding
from services.registry import domain as registry
from shared.errors import DomainError

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def test_thai_national_id_is_validated_by_stdnum() -> None:
    assert registry.national_id("1-1017-00207-03-0") == "1101700207030"
    with pytest.raises(DomainError) as error:
        registry.national_id("1101700207031")
    assert error.value.field == "national_id"


def test_rule_names_the_clauses_it_matched() -> None:
    rule = funding.Rule(frozenset({"gardener", "mechanic"}), min_level=2)
    assert rule.matches("mechanic", 2) == ["occupation in ['gardener', 'mechanic']", "level >= 2"]
    assert rule.matches("mechanic", 1) is None
    assert rule.matches("housekeeper", 5) is None


def test_consent_covers_named_or_any_lender_while_live() -> None:
    any_lender = funding.ConsentFact(funding.LOAN_REFERRAL, None, None)
    only_gsb = funding.ConsentFact(funding.LOAN_REFERRAL, "gsb", None)
    expired = funding.ConsentFact(funding.LOAN_REFERRAL, None, NOW - timedelta(days=1))
    other_purpose = funding.ConsentFact("marketing", None, None)
    assert funding.consent_covers([any_lender], "tcg", NOW)
    assert funding.consent_covers([only_gsb], "gsb", NOW)
    assert not funding.consent_covers([only_gsb], "tcg", NOW)
    assert not funding.consent_covers([expired], "gsb", NOW)
    assert not funding.consent_covers([other_purpose], "gsb", NOW)
    assert not funding.consent_covers([], "gsb", NOW)


def test_best_match_prefers_the_highest_valid_qualification() -> None:
    rule = funding.Rule(frozenset({"mechanic"}), 1)
    low = funding.QualificationFact("A", "mechanic", 1, date(2030, 1, 1))
    high = funding.QualificationFact("B", "mechanic", 3, date(2030, 1, 1))
    stale = funding.QualificationFact("C", "mechanic", 5, date(2020, 1, 1))
    match = funding.best_match(rule, [low, stale, high], NOW.date())
    assert match is not None and match[0] == high
    assert funding.best_match(rule, [stale], NOW.date()) is None


def test_award_waits_for_training_and_failures_never_award() -> None:
    assert certification.outcome(True, True) == certification.AssessmentStatus.AWARDED
    assert certification.outcome(True, False) == certification.AssessmentStatus.AWAITING_TRAINING
    assert certification.outcome(False, True) == certification.AssessmentStatus.FAILED
    assert certification.valid_until(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert certification.certificate_number(date(2026, 1, 1)).startswith("SB-2026-")
