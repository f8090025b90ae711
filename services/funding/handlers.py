"""Funding use cases, each inside the caller's unit of work.

A referral is considered whenever a fact it depends on arrives (a qualification or a
consent), so the result does not depend on the order those events are delivered in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import domain
from services.funding.tables import (
    ConsentRecord,
    Lender,
    Outbox,
    Product,
    Qualification,
    Referral,
)
from shared.db import lock_aggregate
from shared.envelope import source_of
from shared.errors import Conflict, NotFound
from shared.events import ConsentGranted, LoanReferralCreated, QualificationAwarded
from shared.outbox import stage
from shared.topics import partner_topic

SOURCE = source_of("funding")
CREATED = "created"


async def create_lender(session: AsyncSession, code: str, name: str) -> Lender:
    if await session.get(Lender, code) is not None:
        raise Conflict(f"lender {code} exists", field="code")
    lender = Lender(code=code, name=name)
    session.add(lender)
    return lender


@dataclass(frozen=True)
class CreateProduct:
    code: str
    lender_code: str
    name: str
    occupations: list[str]
    min_level: int


async def create_product(session: AsyncSession, cmd: CreateProduct) -> Product:
    if await session.get(Lender, cmd.lender_code) is None:
        raise NotFound(f"no lender {cmd.lender_code}", field="lender_code")
    if await session.get(Product, cmd.code) is not None:
        raise Conflict(f"product {cmd.code} exists", field="code")
    product = Product(**cmd.__dict__)
    session.add(product)
    return product


async def lender_codes(session: AsyncSession) -> list[str]:
    return list((await session.exec(select(Lender.code))).all())


async def on_consent_granted(session: AsyncSession, event: ConsentGranted) -> None:
    # Consent and qualification arrive on different topics: with several replicas they can
    # be handled at once, each missing the other's fact (write skew). Serialise per person.
    await lock_aggregate(session, f"funding:{event.person_id}")
    if await session.get(ConsentRecord, event.consent_id) is None:
        session.add(
            ConsentRecord(
                consent_id=event.consent_id,
                person_id=event.person_id,
                purpose=event.purpose,
                lender_code=event.lender_code,
                expires_at=event.expires_at,
            )
        )
        await session.flush()
    await refer(session, event.person_id)


async def on_qualification_awarded(session: AsyncSession, event: QualificationAwarded) -> None:
    await lock_aggregate(session, f"funding:{event.person_id}")
    if await session.get(Qualification, event.certificate_number) is None:
        session.add(
            Qualification(
                certificate_number=event.certificate_number,
                person_id=event.person_id,
                occupation=event.occupation,
                level=event.level,
                valid_until=event.valid_until,
            )
        )
        await session.flush()
    await refer(session, event.person_id)


async def refer(session: AsyncSession, person_id: str) -> list[Referral]:
    """Create the referrals this person is now eligible for and does not have yet."""
    qualifications = [
        domain.QualificationFact(q.certificate_number, q.occupation, q.level, q.valid_until)
        for q in (
            await session.exec(select(Qualification).where(Qualification.person_id == person_id))
        ).all()
    ]
    if not qualifications:
        return []
    consents = [
        domain.ConsentFact(c.purpose, c.lender_code, c.expires_at)
        for c in (
            await session.exec(select(ConsentRecord).where(ConsentRecord.person_id == person_id))
        ).all()
    ]
    already = set(
        (
            await session.exec(select(Referral.product_code).where(Referral.person_id == person_id))
        ).all()
    )
    now = datetime.now(UTC)
    created = []
    for product in (await session.exec(select(Product).order_by(col(Product.code)))).all():
        if product.code in already:
            continue
        if not domain.consent_covers(consents, product.lender_code, now):
            continue
        rule = domain.Rule(frozenset(product.occupations), product.min_level)
        match = domain.best_match(rule, qualifications, now.date())
        if match is None:
            continue
        qualification, clauses = match
        referral = Referral(
            referral_id=str(uuid.uuid4()),
            person_id=person_id,
            product_code=product.code,
            lender_code=product.lender_code,
            certificate_number=qualification.certificate_number,
            matched_clauses=[
                *clauses,
                f"consent {domain.LOAN_REFERRAL} covers {product.lender_code}",
            ],
            status=CREATED,
            created_at=now,
        )
        session.add(referral)
        event = LoanReferralCreated(
            person_id=person_id,
            referral_id=referral.referral_id,
            lender_code=product.lender_code,
            product_code=product.code,
            occupation=qualification.occupation,
            level=qualification.level,
            certificate_number=qualification.certificate_number,
            matched_clauses=referral.matched_clauses,
            created_at=now,
        )
        stage(session, Outbox, event, source=SOURCE)
        stage(session, Outbox, event, source=SOURCE, topic=partner_topic(product.lender_code))
        created.append(referral)
    return created


async def referrals(
    session: AsyncSession, person_id: str | None, lender_code: str | None
) -> list[Referral]:
    query = select(Referral).order_by(col(Referral.created_at))
    if person_id:
        query = query.where(Referral.person_id == person_id)
    if lender_code:
        query = query.where(Referral.lender_code == lender_code)
    return list((await session.exec(query)).all())


async def counts(session: AsyncSession) -> dict[str, int]:
    async def count(table: type) -> int:
        return int((await session.exec(select(func.count()).select_from(table))).one())

    people = (await session.exec(select(func.count(func.distinct(col(Referral.person_id)))))).one()
    return {
        "qualifications": await count(Qualification),
        "consents": await count(ConsentRecord),
        "referrals": await count(Referral),
        "referred_people": int(people),
    }
