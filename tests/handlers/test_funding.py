"""Funding use cases on a migrated SQLite database, without a broker: the registry's and
certification's events go through the service's HANDLERS table, and the referral events
they cause are read back from the outbox, per topic (broadcast, or the lender's own)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.funding.consumers import HANDLERS
from services.funding.handlers import catalogue
from services.funding.tables import Outbox
from shared.db import Database
from shared.events import Event, PersonRegistered
from shared.topics import FUNDING, partner_topic
from tests.support.funding import Someone, award, consent_granted, shared_data
from tests.support.outbox import Staged, names, staged


async def consume(db: Database, *events: Event) -> None:
    """Each event in its own transaction, through the handler the service's table names."""
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[type(event)](session, event)


async def seeded(db: Database) -> Someone:
    """The shipped catalogue (start-up) and a registered person of 36."""
    async with db.transaction() as session:
        await catalogue.seed(session, catalogue.load_seed())
    someone = Someone(str(uuid.uuid4()), "SB-HANDLER-1")
    registered = PersonRegistered(
        person_id=someone.person_id,
        province_code="10",
        birth_year=1990,
        registered_at=datetime.now(UTC),
    )
    await consume(db, registered)
    return someone


async def on(db: Database, topic: str) -> list[Staged]:
    """The referral events staged on `topic` (the catalogue's own are read apart)."""
    async with db.transaction() as session:
        return [
            e
            for e in await staged(session, Outbox)
            if e.topic == topic and e.name != "LoanProductPublished"
        ]


async def test_each_product_going_live_is_told_with_its_sla(funding_db: Database) -> None:
    document = catalogue.load_seed()
    async with funding_db.transaction() as session:
        await catalogue.seed(session, document)
    async with funding_db.transaction() as session:
        told = [e for e in await staged(session, Outbox) if e.name == "LoanProductPublished"]
    expected = {
        p["code"]: (p["lender_code"], p["rules"].get("sla_days", 30)) for p in document["products"]
    }
    assert {e.data["product_code"]: (e.data["lender_code"], e.data["sla_days"]) for e in told} == (
        expected
    )
    assert all(e.topic == FUNDING and e.data["rule_version"] == 1 for e in told)


async def test_an_award_to_a_consenting_person_stages_the_referral_for_that_lender(
    funding_db: Database,
) -> None:
    someone = await seeded(funding_db)
    granted = consent_granted(someone.person_id, "gsb", ["contact"])
    await consume(funding_db, granted, shared_data(granted))
    assert await on(funding_db, FUNDING) == []  # no qualification yet: nothing to decide

    # Health massage, level 2: gsb's and tcg's products; the consent covers gsb only.
    await consume(funding_db, award(someone, "health-massage", 2))
    gsb = await on(funding_db, partner_topic("gsb"))
    assert names(gsb) == ["LoanReferralCreated", "LoanReferralShared"]
    assert gsb[1].data["applicant"]["phone"] == "0812345678"
    assert {e.data["product_code"] for e in gsb} == {"gsb-occupation-loan"}
    broadcast = {e.data["product_code"]: e.name for e in await on(funding_db, FUNDING)}
    assert broadcast == {
        "gsb-occupation-loan": "LoanReferralCreated",
        "tcg-micro-guarantee": "LoanReferralHeld",  # no consent covers tcg
    }
    assert await on(funding_db, partner_topic("tcg")) == []
    assert all("applicant" not in e.data for e in await on(funding_db, FUNDING))


async def test_without_consent_the_referral_is_held_and_a_late_consent_releases_it(
    funding_db: Database,
) -> None:
    someone = await seeded(funding_db)
    await consume(funding_db, award(someone, "food-and-beverage-production", 2))
    held = await on(funding_db, FUNDING)
    assert set(names(held)) == {"LoanReferralHeld"}
    assert await on(funding_db, partner_topic("gsb")) == []

    await consume(funding_db, consent_granted(someone.person_id, None, []))  # any lender
    released = (await on(funding_db, FUNDING))[len(held) :]
    assert set(names(released)) == {"LoanReferralCreated"}
    assert {e.data["product_code"] for e in released} == {e.data["product_code"] for e in held}
    assert names(await on(funding_db, partner_topic("gsb"))) == [
        "LoanReferralCreated",
        "LoanReferralShared",
    ]
