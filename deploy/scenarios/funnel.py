"""Counts the funnel in the records read off the public topics, as a dashboard would."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from deploy.stack.topics import Observed, distinct
from shared import events
from shared.topics import BROADCAST_TOPICS


def funnel(observed: Iterable[Observed]) -> dict[str, int]:
    broadcast = [o for o in distinct(observed) if o.topic in BROADCAST_TOPICS]
    by_type = Counter(o.ce_type for o in broadcast)

    def people(event: type[events.Event]) -> int:
        return len({o.key for o in broadcast if o.ce_type == event.ce_type()})

    return {
        "registered": by_type[events.PersonRegistered.ce_type()],
        "consented": people(events.ConsentGranted),
        "enrolled": by_type[events.LearnerEnrolled.ce_type()],
        "completed": by_type[events.TrainingCompleted.ce_type()],
        "not_completed": by_type[events.TrainingNotCompleted.ce_type()],
        "certified": by_type[events.QualificationAwarded.ce_type()],
        "failed_assessment": by_type[events.AssessmentFailed.ce_type()],
        "referred_people": people(events.LoanReferralCreated),
        "referrals": by_type[events.LoanReferralCreated.ce_type()],
        "acknowledged": by_type[events.LoanReferralAcknowledged.ce_type()],
        "approved": by_type[events.LoanApproved.ce_type()],  # disbursed ones included
        "declined": by_type[events.LoanDeclined.ce_type()],
        "disbursed": by_type[events.LoanDisbursed.ce_type()],
    }


def referrals(observed: Iterable[Observed]) -> set[tuple[str, str]]:
    """(person_id, product_code) of every LoanReferralCreated on the funding topic."""
    return {
        (o.key, str(o.data["product_code"]))
        for o in distinct(observed)
        if o.ce_type == events.LoanReferralCreated.ce_type() and o.topic in BROADCAST_TOPICS
    }


def render(counts: Mapping[str, int], target: int, per_lender: Mapping[str, int]) -> str:
    width = max(counts.values(), default=1) or 1
    lines = ["", "SkillBridge funnel (from the public topics)", "-" * 60]
    for stage, n in counts.items():
        bar = "#" * round(30 * n / width)
        lines.append(f"{stage:>18} {n:>7,}  {bar}")
    lines.append("-" * 60)
    for stage in ("enrolled", "completed"):
        pct = 100 * counts.get(stage, 0) / target if target else 0.0
        lines.append(
            f"achievement, all programmes ({stage}): {counts.get(stage, 0):,} of {target:,} "
            f"target = {pct:.0f}%"
        )
    if per_lender:
        lines.append(
            "referrals per lender topic: "
            + ", ".join(f"{code} {n}" for code, n in sorted(per_lender.items()))
        )
    return "\n".join(lines)
