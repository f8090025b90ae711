"""Enrolment life: enrolled -> completed | not_completed. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum

from shared.errors import Conflict


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


def finish(current: str, outcome: EnrolmentStatus) -> EnrolmentStatus:
    """The next status, or Conflict when the enrolment is already finished."""
    if current != EnrolmentStatus.ENROLLED:
        raise Conflict(
            f"enrolment is already {current}; cannot record {outcome}",
            field="status",
            status=current,
        )
    return outcome
