"""A late consent releases a held referral: the lender gets the consented data in one
LoanReferralShared, never an empty one first. The registry and funding on the real broker;
the registry's ConsentGranted (broadcast topic) and PersonalDataShared (private topic) reach
funding in either order."""

from __future__ import annotations

from collections import Counter

from sqlmodel import col, func, select

from deploy.stack.topics import Observed
from services.funding.tables import Outbox
from shared.events import LoanReferralShared
from tests.support import RunningRegistry, eventually, ok
from tests.support.funding import RunningFunding, Someone, award
from tests.support.registry import person

PEOPLE = 6  # the two topics race: several people make either order likely


async def unsent(funding: RunningFunding) -> int:
    async with funding.service.db.transaction() as session:
        query = select(func.count()).where(col(Outbox.published_at).is_(None))
        return int((await session.exec(query)).one())


async def test_late_consent_shares_the_data_once_and_complete(
    registry: RunningRegistry, funding: RunningFunding
) -> None:
    people = []
    for n in range(PEOPLE):
        created = ok(await registry.client.post("/people", json=person()), 201)
        people.append(Someone(created["person_id"], f"SB-LATE-{n}"))
        # Certification's award (health massage, level 2): gsb's product, held for consent.
        await funding.upstream.send(award(people[-1], "health-massage", 2))
    ids = {p.person_id for p in people}

    async def replica() -> dict[str, int]:
        return ok(await funding.client.get("/replica"), 200)  # type: ignore[no-any-return]

    async def gsb_rows() -> list[dict[str, object]]:
        rows = [r for p in people for r in await funding.referrals(person_id=p.person_id)]
        return [r for r in rows if r["product_code"] == "gsb-occupation-loan"]

    held = await eventually(gsb_rows, lambda rows: len(rows) == PEOPLE, what="held referrals")
    assert {r["status"] for r in held} == {"held"}

    for someone in people:  # the late consent, with data for gsb
        grant = {"lender_code": "gsb", "data_categories": ["identity", "contact"]}
        ok(await registry.client.post(f"/people/{someone.person_id}/consents", json=grant), 201)
    released = await eventually(
        gsb_rows,
        lambda rows: all(r["status"] == "delivered" for r in rows),
        what="referrals released and delivered on gsb's topic",
    )
    # Both of the registry's events reached funding (PersonalDataShared after ConsentGranted
    # would share again), and what they caused is on the broker.
    await eventually(
        replica,
        lambda sizes: sizes["shared_data"] >= PEOPLE,
        what="consented data in the replica",
    )
    await eventually(lambda: unsent(funding), lambda n: n == 0, what="funding's relay")

    shared: list[Observed] = [
        o
        for o in await funding.partner_topic("gsb")
        if o.ce_type == LoanReferralShared.ce_type() and o.key in ids
    ]
    per_referral = Counter(str(o.data["referral_id"]) for o in shared)
    assert per_referral == Counter({str(r["referral_id"]): 1 for r in released})
    for record in shared:
        applicant = record.data["applicant"]
        assert isinstance(applicant, dict), record.data
        assert applicant["phone"] == "0812345678" and applicant["national_id"]
