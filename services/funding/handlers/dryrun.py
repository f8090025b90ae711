"""Dry run: who a rule version would refer, over every qualification funding knows, and
why not the others (counts by failing clause). Reads only; changes nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import domain
from services.funding.handlers import catalogue
from services.funding.handlers.referrals import ACTIVE, facts_of, known_people, last_decline
from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    Qualification,
    Referral,
    SharedData,
)


@dataclass(frozen=True)
class Candidate:
    person_id: str
    certificate_number: str
    matched_clauses: list[str]
    held: bool  # everything but the consent matched: the referral would wait for it


@dataclass
class DryRun:
    product_code: str
    version: int
    evaluated: int = 0
    referred: list[Candidate] = field(default_factory=list)
    failing_clauses: Counter[str] = field(default_factory=Counter)


async def dry_run(
    session: AsyncSession, product_code: str, version: int, now: datetime | None = None
) -> DryRun:
    now = now or datetime.now(UTC)
    product = await catalogue.product(session, product_code)
    rules = catalogue.rules_of(await catalogue.rule_version(session, product_code, version))
    # The whole replica in a handful of queries: one pass over every known qualification.
    qualifications: dict[str, list[Qualification]] = defaultdict(list)
    for q in (await session.exec(select(Qualification))).all():
        qualifications[q.person_id].append(q)
    people = await known_people(session, qualifications)
    households = {h.household_id: h for h in (await session.exec(select(KnownHousehold))).all()}
    membership = {
        m.person_id: m.household_id for m in (await session.exec(select(KnownMembership)))
    }
    consents: dict[str, list[ConsentRecord]] = defaultdict(list)
    for c in (
        await session.exec(select(ConsentRecord).where(col(ConsentRecord.withdrawn_at).is_(None)))
    ).all():
        consents[c.person_id].append(c)
    shared = set((await session.exec(select(SharedData.consent_id))).all())
    past: dict[str, list[Referral]] = defaultdict(list)
    for r in (
        await session.exec(select(Referral).where(Referral.product_code == product_code))
    ).all():
        past[r.person_id].append(r)

    result = DryRun(product_code, version)
    for person_id in sorted(qualifications):
        person = people.get(person_id)
        if person is not None and person.status != ACTIVE:
            continue
        household_id = membership.get(person_id)
        facts = facts_of(
            person,
            households.get(household_id) if household_id else None,
            qualifications[person_id],
            consents.get(person_id, []),
            shared,
        )
        evaluation = domain.evaluate(
            rules, facts, product.lender_code, now, last_decline(past.get(person_id, []))
        )
        result.evaluated += 1
        if evaluation.eligible or evaluation.held:
            assert evaluation.qualification is not None
            result.referred.append(
                Candidate(
                    person_id,
                    evaluation.qualification.certificate_number,
                    evaluation.matched,
                    evaluation.held,
                )
            )
        if not evaluation.eligible:
            result.failing_clauses.update(evaluation.failed)
    return result
