"""Funding's pure parts: rule clauses, the referral state machine, idempotency fingerprints
and webhook signatures."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import WebhookVerificationError

from services.funding import domain, webhooks
from services.funding.domain import OPEN, TRANSITIONS, Rules, Status
from services.funding.idempotency import fingerprint
from shared.errors import DomainError

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
ANY = domain.ConsentFact(domain.LOAN_REFERRAL, None, None)
BEAUTY = domain.QualificationFact("SB-1", "beautician", 2, date(2029, 1, 1))
RULES = Rules(
    occupations=["beautician"],
    min_level=1,
    provinces=["72"],
    age={"min": 20, "max": 60},
    max_income_band_ceiling=10_000,
    cooldown_days=90,
)


def person(**changes: object) -> domain.PersonFacts:
    base: dict[str, object] = {
        "province_code": "72",
        "birth_year": 1990,
        "income_known": True,
        "income_band_ceiling": 8_000,
        "qualifications": [BEAUTY],
        "consents": [ANY],
    }
    return domain.PersonFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_every_clause_matches_and_is_named() -> None:
    result = domain.evaluate(RULES, person(), "gsb", NOW)
    assert result.eligible and not result.held
    assert result.qualification == BEAUTY
    assert result.matched == [
        "occupation beautician in ['beautician']",
        "level 2 >= 1",
        "certificate SB-1 valid until 2029-01-01",
        "province 72 in ['72']",
        "age 36 in 20-60",
        "household income band ceiling 8000 <= 10000",
        "consent loan-referral covers gsb",
    ]


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        (
            {"qualifications": [domain.QualificationFact("X", "mechanic", 3, date(2029, 1, 1))]},
            "occupation",
        ),
        ({"province_code": "10"}, "province"),
        ({"province_code": None}, "province"),
        ({"birth_year": 1960}, "age"),  # 66
        ({"birth_year": 2010}, "age"),  # 16
        ({"birth_year": None}, "age"),
        ({"income_band_ceiling": 15_000}, "income"),
        ({"income_known": False, "income_band_ceiling": None}, "income"),
        ({"income_band_ceiling": None}, "income"),  # open-ended top band
        (
            {"qualifications": [domain.QualificationFact("O", "beautician", 2, date(2020, 1, 1))]},
            "certificate",
        ),
        (
            {
                "qualifications": [
                    domain.QualificationFact("R", "beautician", 2, date(2029, 1, 1), False)
                ]
            },
            "certificate",
        ),
    ],
)
def test_each_clause_can_fail_alone(changes: dict[str, object], failing: str) -> None:
    result = domain.evaluate(RULES, person(**changes), "gsb", NOW)
    assert result.failed == [failing]
    assert not result.eligible and not result.held


def test_level_and_missing_qualification() -> None:
    strict = RULES.model_copy(update={"min_level": 3})
    assert domain.evaluate(strict, person(), "gsb", NOW).failed == ["level"]
    assert domain.evaluate(RULES, person(qualifications=[]), "gsb", NOW).failed == ["qualification"]


def test_consent_alone_missing_holds_the_referral() -> None:
    only_tcg = domain.ConsentFact(domain.LOAN_REFERRAL, "tcg", None)
    expired = domain.ConsentFact(domain.LOAN_REFERRAL, None, NOW - timedelta(days=1))
    other_purpose = domain.ConsentFact("marketing", None, None)
    for consents in ([], [only_tcg], [expired], [other_purpose]):
        result = domain.evaluate(RULES, person(consents=consents), "gsb", NOW)
        assert result.held and result.failed == ["consent"], consents
    assert domain.evaluate(RULES, person(consents=[only_tcg]), "tcg", NOW).eligible


def test_cooldown_after_a_decline() -> None:
    recent = NOW - timedelta(days=89)
    result = domain.evaluate(RULES, person(), "gsb", NOW, last_declined_at=recent)
    assert result.failed == ["cool-down"]
    old = NOW - timedelta(days=90)
    assert domain.evaluate(RULES, person(), "gsb", NOW, last_declined_at=old).eligible


def test_the_highest_level_qualification_that_fits_is_used() -> None:
    low = domain.QualificationFact("L", "beautician", 1, date(2029, 1, 1))
    high = domain.QualificationFact("H", "beautician", 3, date(2029, 1, 1))
    stale = domain.QualificationFact("S", "beautician", 5, date(2020, 1, 1))
    result = domain.evaluate(RULES, person(qualifications=[low, stale, high]), "gsb", NOW)
    assert result.eligible and result.qualification == high


def test_rules_documents_are_validated() -> None:
    with pytest.raises(ValidationError):
        Rules.model_validate({"min_level": 9})
    with pytest.raises(ValidationError):
        Rules.model_validate({"age": {"min": 60, "max": 20}})
    with pytest.raises(ValidationError):
        Rules.model_validate({"occupation": ["typo"]})  # unknown clause: refused, not ignored
    assert Rules.model_validate({}).required_consent == domain.LOAN_REFERRAL


LEGAL = {(a, b) for a, onward in TRANSITIONS.items() for b in onward}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transitions(current: Status, target: Status) -> None:
    assert domain.transition(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    sorted(set(itertools.product(Status, Status)) - LEGAL),
)
def test_every_illegal_transition_is_a_409(current: Status, target: Status) -> None:
    with pytest.raises(domain.IllegalTransition) as error:
        domain.transition(current, target)
    assert error.value.status == 409


def test_open_and_terminal_states() -> None:
    assert {
        Status.HELD,
        Status.CREATED,
        Status.DELIVERED,
        Status.ACKNOWLEDGED,
        Status.APPROVED,
    } == OPEN
    assert domain.blocks_new_referral(Status.DISBURSED)
    assert not domain.blocks_new_referral(Status.DECLINED)
    assert not domain.blocks_new_referral(Status.CANCELLED)


def test_idempotency_fingerprint_ignores_layout_not_values() -> None:
    a = fingerprint("POST", "/partner/referrals/r1/decision", {"decision": "approved", "amount": 5})
    b = fingerprint("post", "/partner/referrals/r1/decision", {"amount": 5, "decision": "approved"})
    assert a == b and len(a) == 64
    assert a != fingerprint(
        "POST", "/partner/referrals/r1/decision", {"decision": "approved", "amount": 6}
    )
    assert a != fingerprint(
        "POST", "/partner/referrals/r2/decision", {"decision": "approved", "amount": 5}
    )


def test_webhook_signature_verifies_and_detects_tampering() -> None:
    secret = webhooks.new_secret()
    body = '{"id": "e1", "type": "t"}'
    now = datetime.now(UTC)
    headers = webhooks.signed_headers(secret, "e1", body, now)
    assert headers["webhook-id"] == "e1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert webhooks.verify(secret, body, headers) == {"id": "e1", "type": "t"}
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(secret, body.replace("t", "u"), headers)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(webhooks.new_secret(), body, headers)
    stale = webhooks.signed_headers(secret, "e1", body, now - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):  # replayed later: refused
        webhooks.verify(secret, body, stale)


def test_webhook_backoff_doubles_up_to_the_cap() -> None:
    delays = [webhooks.backoff_seconds(n, 2.0, 60.0) for n in range(1, 8)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_a_disbursement_pays_at_most_the_approved_amount_between_approval_and_today() -> None:
    approved = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    domain.check_disbursement(30_000, date(2026, 11, 28), 30_000, approved, now)
    domain.check_disbursement(99_999, date(2026, 11, 25), None, approved, now)  # no amount set
    # A day either side is some lender's local date (UTC-12 .. UTC+14): not refused.
    domain.check_disbursement(1, date(2026, 11, 19), 30_000, approved, now)
    domain.check_disbursement(1, date(2026, 11, 29), 30_000, approved, now)
    for amount, on, field in (
        (30_001, date(2026, 11, 28), "amount"),
        (1, date(2026, 11, 18), "disbursed_on"),
        (1, date(2026, 11, 30), "disbursed_on"),
        (1, date(2030, 1, 1), "disbursed_on"),
    ):
        with pytest.raises(DomainError) as caught:
            domain.check_disbursement(amount, on, 30_000, approved, now)
        assert caught.value.field == field


def test_a_missing_fact_blocks_only_when_nothing_else_fails() -> None:
    def blocked(**changes: object) -> list[tuple[str, str | None]]:
        result = domain.evaluate(RULES, person(**changes), "gsb", NOW)
        return [(c.name, c.missing) for c in result.blocked_by]

    assert blocked() == []  # eligible
    assert blocked(birth_year=None) == [("age", "birth_date")]
    assert blocked(birth_year=None, income_known=False, income_band_ceiling=None) == [
        ("age", "birth_date"),
        ("income", "household_income"),
    ]
    assert blocked(province_code=None, consents=[]) == [("province", "province")]  # + consent
    assert blocked(birth_year=None, province_code="10") == []  # the province fails on its value
    assert blocked(birth_year=None, qualifications=[]) == []  # nothing to refer
    assert blocked(income_known=True, income_band_ceiling=None) == []  # open-ended: a value
