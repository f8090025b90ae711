"""Referrals: made when a person's facts meet a live product's rules, then moved through the
lifecycle (domain.TRANSITIONS), each step one event in the outbox.

A person is (re)considered whenever a fact the rules read arrives (a qualification, a
consent, where they live, their household's income), so the outcome does not depend on the
order events are delivered in. Every change holds the person's lock (common.lock_person).
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import domain
from services.funding.domain import OPEN, Status
from services.funding.handlers import catalogue, subject_access
from services.funding.handlers.common import (
    has_webhooks,
    lock_person,
    read_endpoints,
    stage_referral_event,
)
from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
    Outbox,
    Qualification,
    Referral,
    SharedData,
)
from shared.batch import Delivered
from shared.db import count, get_or_404, where_equal
from shared.errors import DomainError, NotFound
from shared.events import (
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    LoanReferralAcknowledged,
    LoanReferralCancelled,
    LoanReferralCreated,
    LoanReferralDelivered,
    LoanReferralExpired,
    LoanReferralHeld,
    LoanReferralShared,
    ReferralEvent,
    SharedPersonalData,
    copied,
)

ACTIVE = "active"


# --- facts ------------------------------------------------------------------------------


def qualification_fact(q: Qualification) -> domain.QualificationFact:
    return domain.QualificationFact(
        q.certificate_number, q.occupation, q.level, q.valid_until, q.status == "valid"
    )


def consent_fact(c: ConsentRecord) -> domain.ConsentFact:
    return domain.ConsentFact(c.purpose, c.lender_code, c.expires_at)


def data_arrived(consent: ConsentRecord, shared: Container[str]) -> bool:
    """A consent that lets lenders see personal data counts only once that data is here.

    The registry publishes ConsentGranted on its broadcast topic and the data
    (PersonalDataShared) on the private topic, in one transaction; they reach us in either
    order. Releasing the referral on the consent alone sent the lender a LoanReferralShared
    with no applicant, then a second one with it (issue 12); until the data arrives the
    referral stays held, and PersonalDataShared releases it, complete, in one record.
    """
    return not consent.data_categories or consent.consent_id in shared


def facts_of(
    person: KnownPerson | None,
    household: KnownHousehold | None,
    qualifications: Iterable[Qualification],
    consents: Iterable[ConsentRecord],
    shared: Container[str] = frozenset(),
) -> domain.PersonFacts:
    """`shared`: the ids of the consents whose personal data arrived (SharedData)."""
    return domain.PersonFacts(
        province_code=person.province_code if person else None,
        birth_year=person.birth_year if person else None,
        income_known=household is not None,
        income_band_ceiling=household.band_ceiling if household else None,
        qualifications=[qualification_fact(q) for q in qualifications],
        consents=[
            consent_fact(c) for c in consents if c.withdrawn_at is None and data_arrived(c, shared)
        ],
    )


async def person_facts(session: AsyncSession, person_id: str) -> domain.PersonFacts:
    person = await session.get(KnownPerson, person_id)
    membership = await session.get(KnownMembership, person_id)
    household = await session.get(KnownHousehold, membership.household_id) if membership else None
    qualifications = (
        await session.exec(select(Qualification).where(Qualification.person_id == person_id))
    ).all()
    consents = (
        await session.exec(select(ConsentRecord).where(ConsentRecord.person_id == person_id))
    ).all()
    shared = (
        await session.exec(select(SharedData.consent_id).where(SharedData.person_id == person_id))
    ).all()
    return facts_of(person, household, qualifications, consents, set(shared))


def last_decline(past: Iterable[Referral]) -> datetime | None:
    """When the lender last said no (a decline, or silence until the SLA ran out)."""
    return max(
        (
            r.decided_at
            for r in past
            if r.status in (Status.DECLINED, Status.EXPIRED) and r.decided_at is not None
        ),
        default=None,
    )


# --- making referrals ---------------------------------------------------------------------


@dataclass
class Known:
    """What deciding a person's referrals reads, loaded for a whole batch of people."""

    person: KnownPerson | None
    household: KnownHousehold | None
    qualifications: list[Qualification]
    consents: list[ConsentRecord]
    shared: list[SharedData]  # every share of the person's data
    consent_by_id: dict[str, ConsentRecord]  # the consents the shares were made under
    history: dict[str, list[Referral]]  # product code -> the person's referrals

    def facts(self) -> domain.PersonFacts:
        shared = {row.consent_id for row in self.shared}
        return facts_of(self.person, self.household, self.qualifications, self.consents, shared)

    def live_shares(self) -> list[tuple[SharedData, ConsentRecord]]:
        """As `applicant` reads them: shares under a live consent, newest first."""
        rows = [
            (data, consent)
            for data in self.shared
            if (consent := self.consent_by_id.get(data.consent_id)) is not None
            and consent.withdrawn_at is None
        ]
        return sorted(rows, key=lambda row: row[0].shared_at, reverse=True)


def _by_person(rows: Iterable[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.person_id, []).append(row)
    return grouped


async def known_people(session: AsyncSession, ids: Iterable[str]) -> dict[str, KnownPerson]:
    """Person id -> replica row, of those of `ids` funding has one for, in one query."""
    query = select(KnownPerson).where(col(KnownPerson.person_id).in_(list(ids)))
    return {p.person_id: p for p in (await session.exec(query)).all()}


async def _active_qualified(
    session: AsyncSession, wanted: list[str]
) -> tuple[dict[str, list[Qualification]], dict[str, KnownPerson]]:
    """Of these people, those with a qualification and not erased or merged (their
    qualifications, and their replica rows where funding has one)."""
    qualifications = _by_person(
        (
            await session.exec(
                select(Qualification).where(col(Qualification.person_id).in_(wanted))
            )
        ).all()
    )
    if not qualifications:  # most facts arrive before the award: nothing to decide yet
        return {}, {}
    people = await known_people(session, qualifications)
    inactive = {i for i, p in people.items() if p.status != ACTIVE}
    return {i: q for i, q in qualifications.items() if i not in inactive}, people


async def _households(session: AsyncSession, ids: list[str]) -> dict[str, KnownHousehold]:
    """Person -> the household whose income funding knows."""
    memberships = dict(
        (
            await session.exec(
                select(KnownMembership.person_id, KnownMembership.household_id).where(
                    col(KnownMembership.person_id).in_(ids)
                )
            )
        ).all()
    )
    if not memberships:
        return {}
    households = {
        h.household_id: h
        for h in (
            await session.exec(
                select(KnownHousehold).where(
                    col(KnownHousehold.household_id).in_(set(memberships.values()))
                )
            )
        ).all()
    }
    return {p: households[h] for p, h in memberships.items() if h in households}


async def known(session: AsyncSession, person_ids: Iterable[str]) -> dict[str, Known]:
    """The people who hold a qualification and are active, with what the rules read of them:
    one query per table for all of them (none past the first when nobody qualifies)."""
    qualifications, people = await _active_qualified(session, sorted(set(person_ids)))
    ids = sorted(qualifications)
    if not ids:
        return {}
    households = await _households(session, ids)
    shared = (
        await session.exec(select(SharedData).where(col(SharedData.person_id).in_(ids)))
    ).all()
    consents = (
        await session.exec(
            select(ConsentRecord).where(
                col(ConsentRecord.person_id).in_(ids)
                | col(ConsentRecord.consent_id).in_({row.consent_id for row in shared})
            )
        )
    ).all()
    history = _by_person(
        (await session.exec(select(Referral).where(col(Referral.person_id).in_(ids)))).all()
    )
    consent_by_id = {c.consent_id: c for c in consents}
    own_consents = _by_person(consents)
    own_shares = _by_person(shared)
    out = {}
    for i in ids:
        past: dict[str, list[Referral]] = {}
        for row in history.get(i, []):
            past.setdefault(row.product_code, []).append(row)
        out[i] = Known(
            person=people.get(i),
            household=households.get(i),
            qualifications=qualifications[i],
            consents=own_consents.get(i, []),
            shared=own_shares.get(i, []),
            consent_by_id=consent_by_id,
            history=past,
        )
    return out


async def refer(
    session: AsyncSession, person_id: str, now: datetime | None = None
) -> list[Referral]:
    """Create (or hold, or release) the referrals the person's facts now call for."""
    return await refer_many(session, [person_id], now)


async def refer_many(
    session: AsyncSession,
    person_ids: Sequence[str],
    now: datetime | None = None,
    spans: Mapping[str, Delivered[Any]] | None = None,
) -> list[Referral]:
    """`refer` for many people (each under its lock, taken by the caller), reading in a
    fixed number of queries; what is staged for a person continues the trace of the event
    in `spans` that named them."""
    now = now or datetime.now(UTC)
    facts = await known(session, person_ids)
    if not facts:
        return []
    lives = await catalogue.live_products(session)
    await read_endpoints(session, (live.product.lender_code for live in lives))
    changed: list[Referral] = []
    for person_id in dict.fromkeys(person_ids):
        if person_id not in facts:
            continue
        delivered = (spans or {}).get(person_id)
        with delivered.traced() if delivered else nullcontext():
            changed += await _decide(session, person_id, facts[person_id], lives, now)
    return changed


async def _decide(
    session: AsyncSession,
    person_id: str,
    known: Known,
    lives: list[catalogue.LiveProduct],
    now: datetime,
) -> list[Referral]:
    facts = known.facts()
    changed = []
    for live in lives:
        past = known.history.get(live.product.code, [])
        if any(domain.blocks_new_referral(r.status) and r.status != Status.HELD for r in past):
            continue
        held = next((r for r in past if r.status == Status.HELD), None)
        evaluation = domain.evaluate(
            live.rules, facts, live.product.lender_code, now, last_decline(past)
        )
        if held is not None:
            if evaluation.eligible:
                _describe(held, evaluation, live.version.version)
                await _send(session, held, live.rules, now, previous=Status.HELD, known=known)
                changed.append(held)
            continue
        if not (evaluation.eligible or evaluation.held):
            continue
        referral = _new(person_id, live, evaluation, now)
        session.add(referral)
        if evaluation.eligible:
            await _send(session, referral, live.rules, now, previous=None, known=known)
        else:
            await stage_referral_event(session, _held_event(referral, now))
        changed.append(referral)
    return changed


def _new(
    person_id: str, live: catalogue.LiveProduct, evaluation: domain.Evaluation, now: datetime
) -> Referral:
    referral = Referral(
        referral_id=str(uuid.uuid4()),
        person_id=person_id,
        product_code=live.product.code,
        lender_code=live.product.lender_code,
        rule_version=live.version.version,
        certificate_number="",
        occupation="",
        level=1,
        valid_until=now.date(),
        matched_clauses=[],
        status=Status.CREATED if evaluation.eligible else Status.HELD,
        is_open=True,
        created_at=now,
        updated_at=now,
    )
    _describe(referral, evaluation, live.version.version)
    return referral


def _describe(referral: Referral, evaluation: domain.Evaluation, version: int) -> None:
    qualification = evaluation.qualification
    assert qualification is not None
    referral.rule_version = version
    referral.certificate_number = qualification.certificate_number
    referral.occupation = qualification.occupation
    referral.level = qualification.level
    referral.valid_until = qualification.valid_until
    referral.matched_clauses = evaluation.matched


def _ids(referral: Referral) -> dict[str, Any]:
    """What every referral event says of its referral: ReferralEvent's fields."""
    return ReferralEvent.fields_from(referral)


# What a referral rests on, told by LoanReferralHeld, Created and Shared.
_BASIS = ("occupation", "level", "certificate_number", "matched_clauses")


def _held_event(referral: Referral, now: datetime) -> LoanReferralHeld:
    return LoanReferralHeld(
        **_ids(referral),
        **copied(referral, *_BASIS, "rule_version"),
        waiting_for="consent",
        held_at=now,
    )


async def _send(
    session: AsyncSession,
    referral: Referral,
    rules: domain.Rules,
    now: datetime,
    previous: Status | None,
    known: Known | None = None,
) -> None:
    """The lender is told: LoanReferralCreated (broadcast and lender) and LoanReferralShared
    with the consented personal data (lender only). The SLA clock starts."""
    if previous is not None:
        _move(referral, Status.CREATED, now)
    referral.sent_at = now
    referral.respond_by = now + timedelta(days=rules.sla_days)
    session.add(referral)
    await stage_referral_event(
        session,
        LoanReferralCreated(
            **_ids(referral), **copied(referral, *_BASIS, "rule_version"), created_at=now
        ),
    )
    referral.shared_event_id = await share(session, referral, now, known)


async def share(
    session: AsyncSession, referral: Referral, now: datetime, known: Known | None = None
) -> str | None:
    """LoanReferralShared on the lender's topic: the referral with what the person agreed
    to share with this lender (again whenever that data changes); `known`: the person's
    shares, already read."""
    if known is None:
        found = await applicant(session, referral.person_id, referral.lender_code, now)
    else:
        found = merged_applicant(known.live_shares(), referral.lender_code, now)
    event_id = await stage_referral_event(
        session,
        LoanReferralShared(
            **_ids(referral),
            **copied(referral, *_BASIS, "valid_until"),
            applicant=found,
            respond_by=referral.respond_by.date() if referral.respond_by else None,
            shared_at=now,
        ),
    )
    subject_access.record_disclosure(session, referral, found, now, via="topic", event_id=event_id)
    return event_id


async def applicant(
    session: AsyncSession, person_id: str, lender_code: str, now: datetime
) -> SharedPersonalData | None:
    """The personal data of the live consents that cover this lender, merged."""
    rows = (
        await session.exec(
            select(SharedData, ConsentRecord)
            .join(ConsentRecord, col(ConsentRecord.consent_id) == col(SharedData.consent_id))
            .where(SharedData.person_id == person_id, col(ConsentRecord.withdrawn_at).is_(None))
            .order_by(col(SharedData.shared_at).desc())
        )
    ).all()
    return merged_applicant([(data, consent) for data, consent in rows], lender_code, now)


def merged_applicant(
    rows: Iterable[tuple[SharedData, ConsentRecord]], lender_code: str, now: datetime
) -> SharedPersonalData | None:
    """Shares under live consents, newest first, merged for this lender."""
    merged: dict[str, Any] = {}
    categories: set[str] = set()
    for data, consent in rows:
        if not domain.consent_covers([consent_fact(consent)], lender_code, now):
            continue
        if data.lender_code not in (None, lender_code):
            continue
        categories.update(data.data.get("categories", []))
        for name, value in data.data.items():
            if name != "categories" and value is not None:
                merged.setdefault(name, value)  # the newest share wins
    if not categories:
        return None
    return SharedPersonalData(categories=sorted(categories), **merged)


# --- the lifecycle ------------------------------------------------------------------------


def _move(referral: Referral, target: Status, now: datetime) -> Status:
    """One step of the state machine (IllegalTransition, 409, if not allowed)."""
    previous = Status(referral.status)
    domain.transition(referral.status, target)
    referral.status = target
    referral.is_open = target in OPEN
    referral.updated_at = now
    return previous


async def deliver(session: AsyncSession, referral: Referral, channel: str, now: datetime) -> bool:
    """created -> delivered, once, by whichever channel reached the lender first."""
    if referral.status != Status.CREATED:
        return False
    _move(referral, Status.DELIVERED, now)
    referral.delivered_at, referral.delivered_via = now, channel
    session.add(referral)
    await stage_referral_event(
        session, LoanReferralDelivered(**_ids(referral), channel=channel, delivered_at=now)
    )
    return True


async def acknowledge(session: AsyncSession, referral: Referral, now: datetime) -> None:
    await deliver(session, referral, "api", now)  # acting on it proves it arrived
    _move(referral, Status.ACKNOWLEDGED, now)
    referral.acknowledged_at = now
    session.add(referral)
    await stage_referral_event(
        session, LoanReferralAcknowledged(**_ids(referral), acknowledged_at=now)
    )


async def approve(
    session: AsyncSession, referral: Referral, amount: int | None, now: datetime
) -> None:
    _move(referral, Status.APPROVED, now)
    referral.decided_at, referral.approved_amount = now, amount
    session.add(referral)
    await stage_referral_event(
        session, LoanApproved(**_ids(referral), amount=amount, approved_at=now)
    )


async def decline(session: AsyncSession, referral: Referral, reason: str, now: datetime) -> None:
    if reason not in domain.DECLINE_REASONS:
        raise DomainError(
            f"unknown reason code {reason!r}; expected one of {sorted(domain.DECLINE_REASONS)}",
            field="reason_code",
        )
    _move(referral, Status.DECLINED, now)
    referral.decided_at, referral.decline_reason = now, reason
    session.add(referral)
    await stage_referral_event(
        session, LoanDeclined(**_ids(referral), reason_code=reason, declined_at=now)
    )


async def disburse(
    session: AsyncSession, referral: Referral, amount: int, on: Any, now: datetime
) -> None:
    if referral.status == Status.APPROVED and referral.decided_at is not None:
        domain.check_disbursement(amount, on, referral.approved_amount, referral.decided_at, now)
    _move(referral, Status.DISBURSED, now)  # any other status: 409
    referral.disbursed_amount, referral.disbursed_on = amount, on
    session.add(referral)
    await stage_referral_event(
        session,
        LoanDisbursed(**_ids(referral), amount=amount, disbursed_on=on, disbursed_at=now),
    )


async def cancel(session: AsyncSession, referral: Referral, reason: str, now: datetime) -> None:
    previous = _move(referral, Status.CANCELLED, now)
    referral.closed_reason = reason
    session.add(referral)
    await stage_referral_event(
        session,
        LoanReferralCancelled(
            **_ids(referral), previous_status=previous, reason=reason, cancelled_at=now
        ),
    )


async def open_referrals(session: AsyncSession, person_id: str) -> list[Referral]:
    rows = await session.exec(
        select(Referral).where(Referral.person_id == person_id, col(Referral.is_open))
    )
    return list(rows.all())


async def cancel_open(
    session: AsyncSession,
    person_id: str,
    reason: str,
    now: datetime,
    *,
    lender_code: str | None = None,
    certificate_number: str | None = None,
    include_held: bool = True,
) -> list[Referral]:
    cancelled = []
    for referral in await open_referrals(session, person_id):
        if lender_code is not None and referral.lender_code != lender_code:
            continue
        if certificate_number is not None and referral.certificate_number != certificate_number:
            continue
        if referral.status == Status.HELD and not include_held:
            continue
        await cancel(session, referral, reason, now)
        cancelled.append(referral)
    return cancelled


async def expire_due(session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """Referrals past their SLA without a decision: expired (runs on a schedule)."""
    due = (
        await session.exec(
            select(Referral.referral_id, Referral.person_id)
            .where(
                col(Referral.status).in_([s.value for s in domain.AWAITING_DECISION]),
                col(Referral.respond_by) < now,
            )
            .limit(limit)
        )
    ).all()
    expired = 0
    for referral_id, person_id in due:
        await lock_person(session, person_id)
        referral = await session.get(Referral, referral_id, populate_existing=True)
        if referral is None or referral.status not in domain.AWAITING_DECISION:
            continue  # decided meanwhile
        previous = _move(referral, Status.EXPIRED, now)
        referral.decided_at = now
        referral.closed_reason = "sla"
        session.add(referral)
        await stage_referral_event(
            session,
            LoanReferralExpired(**_ids(referral), previous_status=previous, expired_at=now),
        )
        expired += 1
    return expired


async def mark_delivered_by_topic(session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """For a lender without webhooks its topic is its channel: a referral is delivered once
    the broker acknowledged its LoanReferralShared record (the relay marked the row sent)."""
    rows = (
        await session.exec(
            select(Referral.referral_id, Referral.person_id, Referral.lender_code)
            .join(Outbox, col(Outbox.event_id) == col(Referral.shared_event_id))
            .where(Referral.status == Status.CREATED, col(Outbox.published_at).is_not(None))
            .limit(limit)
        )
    ).all()
    delivered = 0
    webhooks: dict[str, bool] = {}
    for referral_id, person_id, lender_code in rows:
        if lender_code not in webhooks:
            webhooks[lender_code] = await has_webhooks(session, lender_code)
        if webhooks[lender_code]:
            continue  # delivered when a webhook is answered 2xx
        await lock_person(session, person_id)
        referral = await session.get(Referral, referral_id, populate_existing=True)
        if referral is not None and await deliver(session, referral, "topic", now):
            delivered += 1
    return delivered


# --- reads --------------------------------------------------------------------------------


async def get(session: AsyncSession, referral_id: str) -> Referral:
    return await get_or_404(
        session, Referral, referral_id, what="referral", field="referral_id", quoted=False
    )


async def locked(session: AsyncSession, referral_id: str) -> Referral:
    """The referral, re-read under its person's lock (for a change)."""
    referral = await get(session, referral_id)
    await lock_person(session, referral.person_id)
    fresh = await session.get(Referral, referral_id, populate_existing=True)
    assert fresh is not None
    return fresh


@dataclass(frozen=True)
class Blocked:
    """A live product the person would be referred to (or held for consent) but for a fact
    funding does not have."""

    product_code: str
    lender_code: str
    rule_version: int
    clause: domain.Clause


@dataclass(frozen=True)
class PersonView:
    referrals: list[Referral]
    blocked: list[Blocked]


async def person_view(session: AsyncSession, person_id: str, now: datetime) -> PersonView:
    """A person's referrals, and the products a missing fact keeps from them (evaluated now,
    by the live rules, as `refer` would)."""
    rows = await search(session, person_id=person_id)
    person = await session.get(KnownPerson, person_id)
    if person is None and not rows:
        raise NotFound(f"funding knows no person {person_id}", field="person_id")
    blocked: list[Blocked] = []
    if person is None or person.status == ACTIVE:
        facts = await person_facts(session, person_id)
        history: dict[str, list[Referral]] = {}
        for row in rows:
            history.setdefault(row.product_code, []).append(row)
        for live in await catalogue.live_products(session):
            past = history.get(live.product.code, [])
            if any(domain.blocks_new_referral(r.status) for r in past):
                continue
            evaluation = domain.evaluate(
                live.rules, facts, live.product.lender_code, now, last_decline(past)
            )
            blocked += [
                Blocked(live.product.code, live.product.lender_code, live.version.version, c)
                for c in evaluation.blocked_by
            ]
    return PersonView(rows, blocked)


async def search(
    session: AsyncSession,
    *,
    person_id: str | None = None,
    lender_code: str | None = None,
    product_code: str | None = None,
    status: str | None = None,
    exclude_held: bool = False,
    limit: int = 10_000,
    offset: int = 0,
) -> list[Referral]:
    query = where_equal(
        select(Referral).order_by(col(Referral.created_at), col(Referral.referral_id)),
        {
            Referral.person_id: person_id,
            Referral.lender_code: lender_code,
            Referral.product_code: product_code,
            Referral.status: status,
        },
        blank_is_unset=True,
    )
    if exclude_held:
        query = query.where(Referral.status != Status.HELD)
    return list((await session.exec(query.offset(offset).limit(limit))).all())


async def counts(session: AsyncSession) -> dict[str, int]:
    by_status = dict(
        (
            await session.exec(select(Referral.status, func.count()).group_by(col(Referral.status)))
        ).all()
    )
    sent = select(Referral.person_id).where(Referral.status != Status.HELD)
    people = (
        await session.exec(
            select(func.count(func.distinct(col(Referral.person_id)))).where(
                col(Referral.person_id).in_(sent)
            )
        )
    ).one()
    result = {
        "people": await count(session, KnownPerson),
        "qualifications": await count(session, Qualification),
        "consents": await count(session, ConsentRecord, col(ConsentRecord.withdrawn_at).is_(None)),
        # Referrals the lenders were told of (held ones wait for consent).
        "referrals": sum(n for s, n in by_status.items() if s != Status.HELD),
        "referred_people": int(people),
    }
    result.update({f"status_{s.value}": int(by_status.get(s.value, 0)) for s in Status})
    return result
