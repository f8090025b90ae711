"""Eligibility rules and consent checks. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

LOAN_REFERRAL = "loan-referral"


@dataclass(frozen=True)
class Rule:
    occupations: frozenset[str]
    min_level: int

    def matches(self, occupation: str, level: int) -> list[str] | None:
        """The clauses that matched, or None when the rule does not match."""
        if occupation not in self.occupations:
            return None
        if level < self.min_level:
            return None
        return [f"occupation in {sorted(self.occupations)}", f"level >= {self.min_level}"]


@dataclass(frozen=True)
class QualificationFact:
    certificate_number: str
    occupation: str
    level: int
    valid_until: date


@dataclass(frozen=True)
class ConsentFact:
    purpose: str
    lender_code: str | None
    expires_at: datetime | None


def consent_covers(consents: Iterable[ConsentFact], lender_code: str, now: datetime) -> bool:
    """True when some live loan-referral consent names this lender or any lender."""
    return any(
        c.purpose == LOAN_REFERRAL
        and c.lender_code in (None, lender_code)
        and (c.expires_at is None or c.expires_at > now)
        for c in consents
    )


def best_match(
    rule: Rule, qualifications: Iterable[QualificationFact], today: date
) -> tuple[QualificationFact, list[str]] | None:
    """The highest-level valid qualification that satisfies the rule, with its clauses."""
    candidates = sorted(
        (q for q in qualifications if q.valid_until >= today), key=lambda q: -q.level
    )
    for qualification in candidates:
        clauses = rule.matches(qualification.occupation, qualification.level)
        if clauses is not None:
            return qualification, clauses
    return None
