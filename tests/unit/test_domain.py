from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.certification import domain as certification
from services.registry import domain as registry
from shared.errors import DomainError

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def test_thai_national_id_is_validated_by_stdnum() -> None:
    assert registry.national_id("1-1017-00207-03-0") == "1101700207030"
    with pytest.raises(DomainError) as error:
        registry.national_id("1101700207031")
    assert error.value.field == "national_id"


def test_award_waits_for_training_and_failures_never_award() -> None:
    assert certification.outcome(True, True) == certification.AssessmentStatus.AWARDED
    assert certification.outcome(True, False) == certification.AssessmentStatus.AWAITING_TRAINING
    assert certification.outcome(False, True) == certification.AssessmentStatus.FAILED
    assert certification.valid_until(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert certification.certificate_number(date(2026, 1, 1)).startswith("SB-2026-")
