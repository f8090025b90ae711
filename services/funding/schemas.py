"""Request and response bodies of the funding API (validation lives here, once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl

from services.funding.domain import Rules
from shared.events import SharedPersonalData
from shared.types import Input, Money, Output, SafeDate

LenderCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", examples=["gsb"])]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["gsb-occupation-loan"])]


class Strict(Input):
    """Unknown fields refused, text NFC without invisible characters (shared/types.py)."""


class LenderIn(Strict):
    code: LenderCode
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["lender", "fund"] = "lender"


class LenderOut(BaseModel):
    code: str
    name: str
    kind: str
    topic: str


class ProductIn(Strict):
    code: Code
    lender_code: LenderCode
    name: str = Field(min_length=1, max_length=200)
    rules: Rules


class RuleVersionIn(Strict):
    rules: Rules
    note: str | None = Field(default=None, max_length=500)


class RuleVersionOut(Output):
    product_code: str
    version: int
    status: str
    rules: dict[str, Any]
    note: str | None
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class ProductOut(BaseModel):
    code: str
    lender_code: str
    name: str
    created_at: datetime
    live_version: int | None
    versions: list[RuleVersionOut]


class CandidateOut(BaseModel):
    person_id: str
    certificate_number: str
    matched_clauses: list[str]
    held: bool = Field(description="everything matched but the consent: the referral would wait")


class DryRunOut(BaseModel):
    product_code: str
    version: int
    evaluated: int = Field(description="people with a qualification funding knows")
    would_refer: int
    would_hold: int
    referred: list[CandidateOut]
    not_referred_by_clause: dict[str, int] = Field(
        description="how many of those not referred failed each clause (one may fail several)"
    )


class ReferralOut(Output):
    referral_id: str
    person_id: str
    product_code: str
    lender_code: str
    rule_version: int
    certificate_number: str
    occupation: str
    level: int
    valid_until: date
    matched_clauses: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    respond_by: datetime | None
    delivered_at: datetime | None
    delivered_via: str | None
    acknowledged_at: datetime | None
    decided_at: datetime | None
    approved_amount: int | None
    decline_reason: str | None
    disbursed_amount: int | None
    disbursed_on: date | None
    closed_reason: str | None


class BlockedOut(BaseModel):
    product_code: str
    lender_code: str
    rule_version: int
    clause: str = Field(examples=["age"])
    missing: str = Field(
        description="the fact funding lacks: birth_date, household_income or province",
        examples=["birth_date"],
    )
    text: str = Field(examples=["age unknown in 20-65"])


class PersonReferralsOut(BaseModel):
    person_id: str
    referrals: list[ReferralOut]
    blocked: list[BlockedOut] = Field(
        description="live products the person meets but for a missing fact (the registry has "
        "not recorded it): nothing is referred until it is"
    )


class PartnerReferralOut(ReferralOut):
    applicant: SharedPersonalData | None = Field(
        description="only what the person consented to share with this lender"
    )


class KeyIn(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", examples=["gsb-loan-system"])


class PartnerKeyOut(Output):
    key_id: str
    lender_code: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class PartnerKeyCreated(PartnerKeyOut):
    token: str = Field(description="shown this once; only its hash is kept")


def _fits_column(url: HttpUrl) -> HttpUrl:
    # Measured as stored: normalising (a trailing slash, percent-encoding) can lengthen it.
    if len(str(url)) > 2000:
        raise ValueError("a URL of at most 2000 characters")
    return url


class WebhookIn(Strict):
    url: Annotated[HttpUrl, AfterValidator(_fits_column)]
    secret: str | None = Field(
        default=None,
        pattern=r"^whsec_[A-Za-z0-9+/=]{24,}$",
        description="whsec_<base64>; omitted: one is generated and shown once",
    )


class WebhookOut(Output):
    endpoint_id: str
    lender_code: str
    url: str
    created_at: datetime
    disabled_at: datetime | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown this once: verify signatures with it")


class DeliveryOut(Output):
    delivery_id: str
    endpoint_id: str
    lender_code: str
    referral_id: str
    event_id: str
    ce_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


# --- partner writes -----------------------------------------------------------------------


class AcknowledgeIn(Strict):
    note: str | None = Field(default=None, max_length=500)


class DecisionIn(Strict):
    decision: Literal["approved", "declined"]
    amount: Money | None = Field(default=None, description="approved amount (THB)")
    reason_code: str | None = Field(default=None, description="required when declined")


class DisbursementIn(Strict):
    amount: Money = Field(gt=0, description="THB")
    disbursed_on: SafeDate


# --- PDPA subject access: what funding holds about one person ----------------------------


class KnownPersonOut(Output):
    """The registry's replica of the person, as funding keeps it."""

    status: str
    province_code: str | None
    village_code: str | None
    birth_year: int | None


class ConsentRecordOut(Output):
    consent_id: str
    purpose: str
    lender_code: str | None
    data_categories: list[str]
    expires_at: datetime | None
    withdrawn_at: datetime | None


class SharedDataOut(Output):
    consent_id: str
    lender_code: str | None
    data: dict[str, Any] = Field(description="the personal data, by consented category")
    shared_at: datetime


class QualificationOut(Output):
    certificate_number: str
    occupation: str
    level: int
    valid_until: date
    status: str


class DisclosureOut(Output):
    """One disclosure: this lender received these data categories at this time."""

    lender_code: str
    referral_id: str
    categories: list[str]
    via: str = Field(description="'topic' (the lender's topic and webhooks) or 'api'")
    shared_at: datetime


class FundingHeld(BaseModel):
    service: Literal["funding"] = "funding"
    person_id: str
    person: KnownPersonOut | None
    household_id: str | None
    consents: list[ConsentRecordOut]
    shared_data: list[SharedDataOut]
    qualifications: list[QualificationOut]
    referrals: list[ReferralOut]
    disclosures: list[DisclosureOut] = Field(
        description="which lender received which data categories, and when"
    )
