"""Which row each event fills, and the handlers made from that (`on_<event>`)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.handlers.facts import Fact, take_in
from services.dashboard.tables import (
    Application,
    AssessmentFailure,
    Certificate,
    Cohort,
    Household,
    HouseholdIncome,
    Membership,
    Organisation,
    Person,
    Product,
    Programme,
    Referral,
    Village,
)
from shared import events as ev
from shared.batch import Delivered, batched


def _application(e: Any, subject: str | None) -> dict[str, object]:
    return {
        "subject": subject,
        "programme_code": e.programme_code,
        "cohort_code": e.cohort_code,
        "occupation": e.occupation,
    }


def _referral(e: Any, subject: str | None) -> dict[str, object]:
    return {"subject": subject, "lender_code": e.lender_code, "product_code": e.product_code}


def _certificate(e: Any, subject: str | None) -> dict[str, object]:
    return {"subject": subject, "occupation": e.occupation, "level": e.level}


APPLICATION = ("application_id",)
ENROLMENT = lambda e: (e.enrolment_id,)  # noqa: E731 - the same row under its other name
REFERRAL = ("referral_id",)
CERTIFICATE = ("certificate_number",)

FACTS: dict[type[ev.Event], Fact] = {
    ev.PersonRegistered: Fact(
        Person,
        ("subject",),
        lambda e, s: {
            "province_code": e.province_code,
            "village_code": e.village_code,
            "registered_at": e.registered_at,
        },
    ),
    ev.PersonRelocated: Fact(
        Person,
        ("subject",),
        lambda e, s: {"province_code": e.province_code, "village_code": e.village_code},
    ),
    ev.HouseholdRegistered: Fact(
        Household,
        ("household_id",),
        lambda e, s: {"province_code": e.province_code, "village_code": e.village_code},
    ),
    ev.HouseholdMemberJoined: Fact(
        Membership, ("household_id", "subject"), lambda e, s: {"joined_at": e.joined_at}
    ),
    ev.HouseholdMemberLeft: Fact(
        Membership, ("household_id", "subject"), lambda e, s: {"left_at": e.left_at}
    ),
    ev.HouseholdIncomeRecorded: Fact(
        HouseholdIncome,
        ("household_id", "recorded_at"),
        lambda e, s: {
            "income_band": e.income_band,
            "band_floor": e.band_floor,
            "low_income": e.low_income,
        },
    ),
    ev.VillageRegistered: Fact(
        Village,
        ("village_code",),
        lambda e, s: {"name": e.name, "province_code": e.province_code, "district": e.district},
    ),
    ev.OrganisationRegistered: Fact(
        Organisation, ("code",), lambda e, s: {"kind": e.kind, "name": e.name}
    ),
    ev.ProgrammeRegistered: Fact(
        Programme,
        ("code",),
        lambda e, s: {
            "name": e.name,
            "owner_code": e.owner_code,
            "year": e.year,
            "target_total": e.target_total,
            "targets": [t.model_dump() for t in e.targets],
        },
        key_from=lambda e: (e.programme_code,),
    ),
    ev.CohortScheduled: Fact(
        Cohort,
        ("code",),
        lambda e, s: {
            "programme_code": e.programme_code,
            "occupation": e.occupation,
            "venue_kind": e.venue_kind,
            "venue_code": e.venue_code,
            "venue_name": e.venue_name,
            "capacity": e.capacity,
            "village_cap": e.village_cap,
            "starts_on": min(e.dates) if e.dates else None,
        },
        key_from=lambda e: (e.cohort_code,),
    ),
    ev.LearnerApplied: Fact(
        Application, APPLICATION, lambda e, s: {**_application(e, s), "applied_at": e.applied_at}
    ),
    ev.LearnerEnrolled: Fact(
        Application,
        APPLICATION,
        lambda e, s: {**_application(e, s), "enrolled_at": e.enrolled_at, "rank": e.rank},
        key_from=ENROLMENT,
    ),
    ev.LearnerWaitlisted: Fact(
        Application,
        APPLICATION,
        lambda e, s: {
            **_application(e, s),
            "waitlisted_at": e.waitlisted_at,
            "waitlist_reason": e.reason,
            "rank": e.rank,
        },
    ),
    ev.LearnerWithdrew: Fact(
        Application,
        APPLICATION,
        lambda e, s: {
            **_application(e, s),
            "withdrew_at": e.withdrew_at,
            "withdraw_reason": e.reason,
        },
    ),
    ev.TrainingCompleted: Fact(
        Application,
        APPLICATION,
        lambda e, s: {**_application(e, s), "completed_at": e.completed_at},
        key_from=ENROLMENT,
    ),
    ev.TrainingNotCompleted: Fact(
        Application,
        APPLICATION,
        lambda e, s: {
            **_application(e, s),
            "not_completed_at": e.recorded_at,
            "not_completed_reason": e.reason,
        },
        key_from=ENROLMENT,
    ),
    ev.QualificationAwarded: Fact(
        Certificate, CERTIFICATE, lambda e, s: {**_certificate(e, s), "awarded_at": e.awarded_at}
    ),
    ev.QualificationRevoked: Fact(
        Certificate, CERTIFICATE, lambda e, s: {**_certificate(e, s), "revoked_at": e.revoked_at}
    ),
    ev.QualificationExpired: Fact(
        Certificate, CERTIFICATE, lambda e, s: {**_certificate(e, s), "expired_at": e.expired_at}
    ),
    ev.QualificationRenewed: Fact(
        # A renewed certificate is valid again: its expiry no longer counts.
        Certificate,
        CERTIFICATE,
        lambda e, s: _certificate(e, s),
    ),
    ev.AssessmentFailed: Fact(
        AssessmentFailure,
        ("assessment_id",),
        lambda e, s: {
            "subject": s,
            "occupation": e.occupation,
            "failed_units": list(e.failed_units),
            "assessed_at": e.assessed_at,
        },
    ),
    ev.LoanProductPublished: Fact(
        Product,
        ("code",),
        lambda e, s: {
            "lender_code": e.lender_code,
            "lender_name": e.lender_name,
            "name": e.name,
            "sla_days": e.sla_days,
            "rule_version": e.rule_version,
        },
        key_from=lambda e: (e.product_code,),
    ),
    ev.LoanReferralCreated: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {
            **_referral(e, s),
            "certificate_number": e.certificate_number,
            "created_at": e.created_at,
        },
    ),
    ev.LoanReferralHeld: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {
            **_referral(e, s),
            "certificate_number": e.certificate_number,
            "held_at": e.held_at,
        },
    ),
    ev.LoanReferralDelivered: Fact(
        Referral, REFERRAL, lambda e, s: {**_referral(e, s), "delivered_at": e.delivered_at}
    ),
    ev.LoanReferralAcknowledged: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {**_referral(e, s), "acknowledged_at": e.acknowledged_at},
    ),
    ev.LoanApproved: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {**_referral(e, s), "approved_at": e.approved_at, "approved_amount": e.amount},
    ),
    ev.LoanDeclined: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {
            **_referral(e, s),
            "declined_at": e.declined_at,
            "decline_reason": e.reason_code,
        },
    ),
    ev.LoanDisbursed: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {
            **_referral(e, s),
            "disbursed_at": e.disbursed_at,
            "disbursed_amount": e.amount,
        },
    ),
    ev.LoanReferralExpired: Fact(
        Referral, REFERRAL, lambda e, s: {**_referral(e, s), "expired_at": e.expired_at}
    ),
    ev.LoanReferralCancelled: Fact(
        Referral,
        REFERRAL,
        lambda e, s: {
            **_referral(e, s),
            "cancelled_at": e.cancelled_at,
            "cancel_reason": e.reason,
        },
    ),
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def handler(event: type[ev.Event], fact: Fact) -> Callable[..., Awaitable[object]]:
    """`on_<event>`: a batch handler that fills the event's row (callable for one event)."""

    async def form(session: AsyncSession, batch: Sequence[Delivered[Any]]) -> None:
        await take_in(session, fact, batch)

    form.__name__ = form.__qualname__ = f"on_{snake(event.__name__)}"
    form.__doc__ = f"{event.__name__} into the {fact.table.__tablename__} table."
    return batched(form)


HANDLERS: dict[type[ev.Event], Callable[..., Awaitable[object]]] = {
    event: handler(event, fact) for event, fact in FACTS.items()
}
