"""The audit log (shared.audit) in every service: each audited action writes one entry naming
its actor (the operator's key, or the partner's lender and key) in the action's own
transaction, so an action that rolls back leaves no entry."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.handlers import certificates
from services.certification.tables import AuditEntry as CertificationAudit
from services.certification.tables import Certificate
from services.funding.handlers import catalogue, partner_api, partners, referrals
from services.funding.tables import AuditEntry as FundingAudit
from services.funding.tables import Referral
from services.training.tables import ApiKey as TrainingKey
from services.training.tables import AuditEntry as TrainingAudit
from shared import audit
from shared.audit import AuditColumns
from shared.auth import ApiKeys, Operator, Role
from shared.db import Database
from shared.topics import partner_topic
from tests.handlers.test_certification import ISSUING as CERT_ISSUING
from tests.handlers.test_certification import UNITS, assess, assessment_session, trained
from tests.handlers.test_funding import consume, on, seeded
from tests.support.funding import award, consent_granted, shared_data

ADMIN = Operator(key_id="k-admin-1", name="ops-admin", role=Role.admin)


class Boom(Exception):
    """Raised after an action, inside its transaction, to roll it back."""


async def log(db: Database, table: type[AuditColumns]) -> list[tuple[Any, ...]]:
    async with db.transaction() as session:
        rows = await audit.entries(session, table)
    return [(r.actor, r.actor_key_id, r.action, r.entity_type, r.entity_id) for r in rows]


async def a_certificate(db: Database) -> str:
    await assessment_session(db, "S-1")
    person_id = str(uuid.uuid4())
    await trained(db, person_id)
    await assess(db, "S-1", person_id, dict.fromkeys(UNITS, True))
    async with db.transaction() as session:
        [row] = (await session.exec(select(Certificate))).all()
    return row.certificate_number


async def test_revoking_a_certificate_records_the_operator(certification_db: Database) -> None:
    number = await a_certificate(certification_db)
    with pytest.raises(Boom):
        async with certification_db.transaction() as session:
            await certificates.revoke(session, number, "fraud", ADMIN)
            raise Boom
    assert await log(certification_db, CertificationAudit) == []  # rolled back together

    async with certification_db.transaction() as session:
        await certificates.revoke(session, number, "fraud", ADMIN)
    assert await log(certification_db, CertificationAudit) == [
        ("ops-admin", "k-admin-1", "certificate.revoked", "certificate", number)
    ]


async def test_renewing_a_certificate_records_the_operator(certification_db: Database) -> None:
    number = await a_certificate(certification_db)
    async with certification_db.transaction() as session:
        row = await session.get(Certificate, number)
        assert row is not None
        row.valid_until = date.today()  # due for renewal
        session.add(row)
    writer = Operator(key_id="k-w", name="cert-officer", role=Role.write)
    async with certification_db.transaction() as session:
        await certificates.renew(session, number, CERT_ISSUING, writer)
    [entry] = await log(certification_db, CertificationAudit)
    assert entry == ("cert-officer", "k-w", "certificate.renewed", "certificate", number)


async def test_publishing_a_rule_records_the_operator(funding_db: Database) -> None:
    async with funding_db.transaction() as session:
        await catalogue.seed(session, catalogue.load_seed())
    seeded_entries = await log(funding_db, FundingAudit)
    assert seeded_entries and {e[:3] for e in seeded_entries} == {("seed", None, "rule.published")}
    code = seeded_entries[0][4]
    now = datetime.now(UTC)
    async with funding_db.transaction() as session:
        live = await catalogue.rule_version(session, code, 1)
        draft = await catalogue.add_draft(session, code, catalogue.rules_of(live), "v2", now=now)
    with pytest.raises(Boom):
        async with funding_db.transaction() as session:
            await catalogue.publish(session, code, draft.version, now=now, by=ADMIN)
            raise Boom
    assert await log(funding_db, FundingAudit) == seeded_entries

    async with funding_db.transaction() as session:
        await catalogue.publish(session, code, draft.version, now=now, by=ADMIN)
    assert (await log(funding_db, FundingAudit))[len(seeded_entries) :] == [
        ("ops-admin", "k-admin-1", "rule.published", "product", code)
    ]


async def test_partner_keys_record_the_operator_who_made_and_revoked_them(
    funding_db: Database,
) -> None:
    await seeded(funding_db)
    before = len(await log(funding_db, FundingAudit))
    async with funding_db.transaction() as session:
        key, _ = await partners.create_key(session, "gsb", "gsb-core", ADMIN)
    async with funding_db.transaction() as session:
        await partners.revoke_key(session, "gsb", key.key_id, ADMIN)
    async with funding_db.transaction() as session:  # again: nothing changes, nothing recorded
        await partners.revoke_key(session, "gsb", key.key_id, ADMIN)
    assert (await log(funding_db, FundingAudit))[before:] == [
        ("ops-admin", "k-admin-1", "partner-key.created", "partner-key", key.key_id),
        ("ops-admin", "k-admin-1", "partner-key.revoked", "partner-key", key.key_id),
    ]


async def a_referral_for_gsb(db: Database) -> str:
    someone = await seeded(db)
    granted = consent_granted(someone.person_id, "gsb", ["contact"])
    await consume(db, granted, shared_data(granted), award(someone, "health-massage", 2))
    [created, _shared] = await on(db, partner_topic("gsb"))
    return str(created.data["referral_id"])


async def render(session: AsyncSession, referral: Referral, now: datetime) -> dict[str, Any]:
    return {"status": referral.status}


async def test_a_partner_decision_records_the_lender_and_key(funding_db: Database) -> None:
    referral_id = await a_referral_for_gsb(funding_db)
    before = len(await log(funding_db, FundingAudit))
    partner = partners.Partner("gsb", "pk-1")

    async def failing_render(session: AsyncSession, referral: Referral, now: datetime) -> Any:
        raise Boom  # after the action and its entry, in the same transaction

    cmd = partner_api.Write("gsb", referral_id, "idem-1", "fp-1", by=partner)
    with pytest.raises(Boom):
        await partner_api.write(
            funding_db, cmd, referrals.acknowledge, failing_render, "referral.acknowledged"
        )
    assert len(await log(funding_db, FundingAudit)) == before

    await partner_api.write(funding_db, cmd, referrals.acknowledge, render, "referral.acknowledged")
    await partner_api.write(  # the same Idempotency-Key again: replayed, not done again
        funding_db, cmd, referrals.acknowledge, render, "referral.acknowledged"
    )
    approve = partner_api.decision("approved", 50_000, None)
    cmd2 = partner_api.Write("gsb", referral_id, "idem-2", "fp-2", by=partner)
    await partner_api.write(funding_db, cmd2, approve, render, "referral.approved")
    assert (await log(funding_db, FundingAudit))[before:] == [
        ("lender:gsb", "pk-1", "referral.acknowledged", "referral", referral_id),
        ("lender:gsb", "pk-1", "referral.approved", "referral", referral_id),
    ]


async def test_operator_keys_record_who_created_and_revoked_them(training_db: Database) -> None:
    keys = ApiKeys(training_db, TrainingKey, audit=TrainingAudit)
    row, _ = await keys.create("reporting", Role.read, by=ADMIN)
    await keys.revoke(row.key_id, by=ADMIN)
    await keys.revoke(row.key_id, by=ADMIN)  # already revoked: nothing recorded
    assert await log(training_db, TrainingAudit) == [
        ("ops-admin", "k-admin-1", "api-key.created", "api-key", row.key_id),
        ("ops-admin", "k-admin-1", "api-key.revoked", "api-key", row.key_id),
    ]
    async with training_db.transaction() as session:
        [created, _revoked] = await audit.entries(session, TrainingAudit)
    assert created.detail == "reporting (read)"  # the key's name and role, never its token


async def test_entries_filter_by_action_and_page_by_id(training_db: Database) -> None:
    async with training_db.transaction() as session:
        for n in range(5):
            action = "api-key.created" if n % 2 == 0 else "api-key.revoked"
            audit.record(session, TrainingAudit, ADMIN, action, ("api-key", f"k{n}"))
    async with training_db.transaction() as session:
        created = await audit.entries(session, TrainingAudit, action="api-key.created")
        first = await audit.entries(session, TrainingAudit, limit=2)
        second = await audit.entries(session, TrainingAudit, after_id=first[-1].id or 0, limit=2)
    assert [e.entity_id for e in created] == ["k0", "k2", "k4"]
    assert [e.entity_id for e in first + second] == ["k0", "k1", "k2", "k3"]
