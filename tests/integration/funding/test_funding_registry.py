"""The registry and funding side by side on the real broker: what a person consents to share
in the registry reaches that lender, and only that lender, inside its referral."""

from __future__ import annotations

from deploy.stack.topics import Observed, read_topics
from shared.events import LoanReferralCancelled, LoanReferralShared
from shared.topics import FUNDING
from tests.support import RunningRegistry, eventually, ok
from tests.support.funding import RunningFunding, Someone, award
from tests.support.registry import person


async def test_registry_consent_brings_the_consented_data_to_that_lender_only(
    registry: RunningRegistry, funding: RunningFunding
) -> None:
    consents = [{"lender_code": "gsb", "data_categories": ["identity", "contact"]}]
    body = person(consents=consents)
    created = ok(await registry.client.post("/people", json=body), 201)
    someone = Someone(created["person_id"], "SB-REG-1")
    # Certification's award (health massage, level 2): gsb and tcg products; consent: gsb only.
    await funding.upstream.send(award(someone, "health-massage", 2))

    records = await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: any(
            o.ce_type == LoanReferralShared.ce_type()
            and (o.data.get("applicant") or {}).get("phone")
            for o in found
        ),
        what="gsb receives the referral with the consented data",
    )
    applicant = [o for o in records if o.ce_type == LoanReferralShared.ce_type()][-1].data[
        "applicant"
    ]
    assert applicant["national_id"] == body["national_id"]
    assert applicant["first_name_th"] == "มาลี" and applicant["phone"] == "0812345678"
    assert applicant["house_no"] is None  # address was not consented
    assert sorted(applicant["categories"]) == ["contact", "identity"]
    rows = await funding.referrals(person_id=someone.person_id)
    assert {(r["product_code"], r["status"] != "held") for r in rows} == {
        ("gsb-occupation-loan", True),
        ("tcg-micro-guarantee", False),  # held: no consent covers tcg
    }
    tcg = await funding.partner_topic("tcg")
    assert not tcg  # nothing at all about this person on tcg's topic
    broadcast = "\n".join(str(o.data) for o in await funding_topic(funding))
    assert body["national_id"] not in broadcast and "0812345678" not in broadcast

    # The person withdraws the consent in the registry: gsb is told, funding forgets the data.
    read = ok(await registry.client.get(f"/people/{someone.person_id}"), 200)
    consent_id = read["consents"][0]["consent_id"]
    withdrawal = f"/people/{someone.person_id}/consents/{consent_id}/withdrawal"
    ok(await registry.client.post(withdrawal), 200)
    await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: any(o.ce_type == LoanReferralCancelled.ce_type() for o in found),
        what="gsb told of the withdrawal",
    )
    replica = ok(await funding.client.get("/replica"), 200)
    assert replica["shared_data"] == 0


async def funding_topic(funding: RunningFunding) -> list[Observed]:
    return await read_topics(funding.bootstrap, [FUNDING])
