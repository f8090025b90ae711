"""Certification rules. Pure: no I/O.

A candidate passes a standard when every required competency unit is passed. A pass on the
training route is awarded only once the person's training in that occupation is known
(TrainingCompleted); the two facts may arrive in either order. A pass on the experience
route (evidence of experience, as TPQI allows) is awarded at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.errors import DomainError


class AssessmentStatus(StrEnum):
    AWARDED = "awarded"
    AWAITING_TRAINING = "awaiting-training"
    FAILED = "failed"


class Route(StrEnum):
    TRAINING = "training"  # TrainingCompleted for the occupation is required
    EXPERIENCE = "experience"  # a direct applicant with evidence of experience


class CertificateStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Unit:
    code: str
    title: str
    required: bool


@dataclass(frozen=True)
class Decision:
    passed: bool
    failed_units: tuple[str, ...]  # required units not passed


def decide(units: Sequence[Unit], results: Mapping[str, bool]) -> Decision:
    """Pass only if every required unit is passed; optional units never decide.

    Results must name only the standard's units and cover every required one: a missing
    required unit is an incomplete assessment, not a fail.
    """
    known = {unit.code for unit in units}
    unknown = sorted(set(results) - known)
    if unknown:
        raise DomainError(f"units not in the standard: {', '.join(unknown)}", field="units")
    missing = sorted(u.code for u in units if u.required and u.code not in results)
    if missing:
        raise DomainError(f"no result for required units: {', '.join(missing)}", field="units")
    failed = tuple(u.code for u in units if u.required and not results[u.code])
    return Decision(passed=not failed, failed_units=failed)


def outcome(passed: bool, eligible: bool) -> AssessmentStatus:
    """`eligible`: the route's condition holds (training known, or the experience route)."""
    if not passed:
        return AssessmentStatus.FAILED
    return AssessmentStatus.AWARDED if eligible else AssessmentStatus.AWAITING_TRAINING


def status(valid_until: date, revoked: bool, today: date) -> CertificateStatus:
    """A certificate is valid through its valid-until date, expired from the day after."""
    if revoked:
        return CertificateStatus.REVOKED
    return CertificateStatus.VALID if today <= valid_until else CertificateStatus.EXPIRED


def certificate_number(issued: date) -> str:
    # Random, not sequential: numbers are public and must not reveal volumes or neighbours.
    return f"SB-{issued.year}-{secrets.token_hex(5).upper()}"


def valid_until(issued: date, years: int) -> date:
    try:
        return issued.replace(year=issued.year + years)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + years, day=28)


def renewed_until(current: date, today: date, years: int) -> date:
    """Renewal extends from the current end if still valid, else from today: no gap is
    bridged and no validity is lost."""
    return valid_until(max(current, today), years)


# Thai leading vowels are written before the consonant they follow in speech; a Thai
# initial is the first consonant (เพ็ญศรี -> พ.).
_LEADING_VOWELS = frozenset("เแโใไ")


def initials(full_name: str | None) -> str | None:
    """What verification shows of the holder: one letter per name part ("ส. ท.")."""
    if not full_name:
        return None
    letters = []
    for part in full_name.split():
        consonants = [c for c in part if c not in _LEADING_VOWELS and c.isalpha()]
        if consonants:
            letters.append(f"{consonants[0].upper()}.")
    return " ".join(letters) or None
