"""When a certificate is awarded. Pure: no I/O.

A pass is awarded only once the person's training in that occupation is known
(TrainingCompleted); the two facts may arrive in either order.
"""

from __future__ import annotations

import secrets
from datetime import date
from enum import StrEnum


class AssessmentStatus(StrEnum):
    AWARDED = "awarded"
    AWAITING_TRAINING = "awaiting-training"
    FAILED = "failed"


def outcome(passed: bool, training_known: bool) -> AssessmentStatus:
    if not passed:
        return AssessmentStatus.FAILED
    return AssessmentStatus.AWARDED if training_known else AssessmentStatus.AWAITING_TRAINING


def certificate_number(issued: date) -> str:
    # Random, not sequential: numbers are public and must not reveal volumes or neighbours.
    return f"SB-{issued.year}-{secrets.token_hex(5).upper()}"


def valid_until(issued: date, years: int) -> date:
    try:
        return issued.replace(year=issued.year + years)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + years, day=28)
