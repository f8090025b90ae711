"""Referrals made from events on the real broker: the seeded IEAT and Suphan Buri scenarios
person by person, held until consent, replays, dry runs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from deploy.scenarios.pilot import (
    PRODUCTS_2019,
    PRODUCTS_SUPHAN_BURI,
    Trainee,
    expected_held,
    expected_referrals,
    ieat_2019_pilot,
    suphan_buri_beauticians,
)
from shared.events import (
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    LoanReferralCreated,
    LoanReferralHeld,
    LoanReferralShared,
    PersonalDataShared,
    PersonRegistered,
    QualificationAwarded,
    SharedPersonalData,
)
from tests.support import eventually, ok
from tests.support.funding import RunningFunding, award, consent_granted, person

# The registry's default income bands (RegistrySettings.income_band_edges).
EDGES = [0, 2_000, 4_000, 6_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000]


def band(income: int) -> tuple[str, int, int | None]:
    index = max(i for i, edge in enumerate(EDGES) if edge <= income)
    ceiling = EDGES[index + 1] if index + 1 < len(EDGES) else None
    return f"B{index:02d}", EDGES[index], ceiling


async def publish_trainee(funding: RunningFunding, t: Trainee, award_first: bool) -> str:
    """What the registry and certification would publish about one trainee."""
    up = funding.upstream
    person_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    events = []
    if t.passes:  # certified; some awards reach funding before the person does
        events.append(
            QualificationAwarded(
                person_id=person_id,
                certificate_number=f"SB-{t.national_id}",
                occupation=t.occupation,
                level=t.level,
                valid_until=date(2029, 6, 30),
                awarded_at=now,
            )
        )
    registered = [
        PersonRegistered(
            person_id=person_id,
            province_code=t.province_code,
            birth_year=t.birth_date.year,
            registered_at=now,
        )
    ]
    if t.consents_to_lenders:
        registered.append(consent_granted(person_id, None, []))
    if t.monthly_income is not None:
        household = str(uuid.uuid4())
        label, floor, ceiling = band(t.monthly_income)
        registered += [
            HouseholdMemberJoined(household_id=household, person_id=person_id, joined_at=now),
            HouseholdIncomeRecorded(
                household_id=household,
                income_band=label,
                band_floor=floor,
                band_ceiling=ceiling,
                low_income=t.monthly_income < 10_000,
                recorded_at=now,
            ),
        ]
    for event in events + registered if award_first else registered + events:
        await up.send(event)
    return person_id


async def test_seeded_ieat_and_suphan_buri_scenarios_person_by_person(
    funding: RunningFunding,
) -> None:
    ieat = ieat_2019_pilot(seed=2019, size=240)
    suphan = suphan_buri_beauticians(seed=72, size=60)
    products = PRODUCTS_2019 + PRODUCTS_SUPHAN_BURI
    everyone = replace(ieat, trainees=ieat.trainees + suphan.trainees, products=products)
    want = expected_referrals(everyone)
    want_held = expected_held(everyone)
    assert {p for _, p in want} == {p.product_code for p in products}  # every product used

    before = funding.processed()
    by_national_id = {}
    for i, trainee in enumerate(everyone.trainees):
        by_national_id[trainee.national_id] = await publish_trainee(funding, trainee, i % 2 == 0)
    await funding.settled(before, funding.upstream.sent)

    to_nid = {pid: nid for nid, pid in by_national_id.items()}
    rows = await funding.referrals()
    sent = {(to_nid[r["person_id"]], r["product_code"]) for r in rows if r["status"] != "held"}
    held = {(to_nid[r["person_id"]], r["product_code"]) for r in rows if r["status"] == "held"}
    for trainee in everyone.trainees:  # person by person, so a failure names who differs
        nid = trainee.national_id
        assert {p for n, p in sent if n == nid} == {p for n, p in want if n == nid}, trainee
        assert {p for n, p in held if n == nid} == {p for n, p in want_held if n == nid}, trainee
    assert len(rows) == len(want) + len(want_held)  # never two for a person and product
    # Every referral says why: the clauses that matched, under the live rule version.
    suphan_rows = [r for r in rows if r["product_code"] == "gsb-beautician-suphanburi"]
    assert suphan_rows and all("province 72 in ['72']" in r["matched_clauses"] for r in suphan_rows)

    # On the broker: one LoanReferralCreated per sent referral, held ones only broadcast.
    async def on_topic() -> list[object]:
        return [r for r in await funding.partner_topic("gsb")]

    gsb = await eventually(
        on_topic,
        lambda found: (
            sum(o.ce_type == LoanReferralShared.ce_type() for o in found)  # type: ignore[attr-defined]
            >= sum(1 for _, p in want if p.startswith("gsb-"))
        ),
        what="gsb topic",
    )
    assert not any(o.ce_type == LoanReferralHeld.ce_type() for o in gsb)  # type: ignore[attr-defined]
    assert {o.data["lender_code"] for o in gsb} == {"gsb"}  # type: ignore[attr-defined]


async def test_held_until_consent_then_created_and_shared(funding: RunningFunding) -> None:
    up = funding.upstream
    someone = await person(up, consent=[], occupation="food-and-beverage-production", level=2)
    held = await eventually(
        lambda: funding.referrals(person_id=someone.person_id),
        lambda rows: len(rows) == 2,
        what="held referrals",
    )
    assert {r["status"] for r in held} == {"held"}
    assert {r["product_code"] for r in held} == {"gsb-occupation-loan", "smed-startup-loan"}

    # As the registry does: the consent on its topic, the consented data on the private one.
    consent = consent_granted(someone.person_id, "gsb", ["contact"])
    await up.send(consent)
    await up.send(
        PersonalDataShared(
            person_id=someone.person_id,
            consent_id=consent.consent_id,
            lender_code="gsb",
            data=SharedPersonalData(categories=["contact"], phone="0812345678"),
            shared_at=datetime.now(UTC),
        )
    )
    rows = await eventually(
        lambda: funding.referrals(person_id=someone.person_id),
        lambda rows: any(r["status"] != "held" for r in rows),
        what="gsb referral released",
    )
    status = {r["product_code"]: r["status"] for r in rows}
    assert status["gsb-occupation-loan"] in ("created", "delivered")
    assert status["smed-startup-loan"] == "held"  # the consent names gsb only
    assert len(rows) == 2  # released, not a second one
    gsb = await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: (
            {o.ce_type for o in found}
            >= {LoanReferralCreated.ce_type(), LoanReferralShared.ce_type()}
        ),
        what="gsb told",
    )
    assert {o.key for o in gsb} == {someone.person_id}


async def test_the_same_award_ten_times_makes_one_referral(funding: RunningFunding) -> None:
    up = funding.upstream
    someone = await person(up, consent=[None], occupation=None)
    event = award(someone, "housekeeper", 1)
    before = funding.processed()
    for _ in range(10):  # the same CloudEvent redelivered: one ce_id
        await up.send(event, ce_id="replayed-award-1")
    for _ in range(10):  # ten distinct CloudEvents about the same certificate
        await up.send(event)
    await funding.settled(before, 20)
    rows = await funding.referrals(person_id=someone.person_id)
    assert [r["product_code"] for r in rows] == ["gsb-occupation-loan"]
    stats = funding.service.consumer
    assert stats is not None and stats.duplicates >= 9  # the inbox dropped the replays
    created = [
        o for o in await funding.partner_topic("gsb") if o.ce_type == LoanReferralCreated.ce_type()
    ]
    assert len(created) == 1


async def test_dry_run_answers_who_a_draft_would_refer_and_changes_nothing(
    funding: RunningFunding,
) -> None:
    up = funding.upstream
    young = await person(up, birth_year=2000, consent=[None], occupation="gardener", level=1)
    old = await person(up, birth_year=1950, consent=[None], occupation="gardener", level=1)
    no_consent = await person(up, birth_year=1990, consent=[], occupation="gardener", level=1)
    mechanic = await person(up, birth_year=1990, consent=[None], occupation="mechanic", level=1)
    await eventually(lambda: _replica(funding), lambda r: r["qualifications"] >= 4, what="replica")
    # tcg's live rule needs level 2: none of these qualify. A draft that takes level 1
    # gardeners up to 60 would refer the young one and hold the one without consent.
    draft = ok(
        await funding.client.post(
            "/products/tcg-micro-guarantee/rules",
            json={
                "rules": {
                    "occupations": ["gardener"],
                    "min_level": 1,
                    "age": {"min": 20, "max": 60},
                },
                "note": "level 1 gardeners",
            },
        ),
        201,
    )
    assert draft["version"] == 2 and draft["status"] == "draft"
    before = await funding.referrals()
    result = ok(await funding.client.post("/products/tcg-micro-guarantee/rules/2/dry-run"), 200)
    assert result["evaluated"] == 4
    by_person = {c["person_id"]: c for c in result["referred"]}
    assert set(by_person) == {young.person_id, no_consent.person_id}
    assert by_person[young.person_id]["held"] is False
    assert by_person[no_consent.person_id]["held"] is True
    assert "age 26 in 20-60" in by_person[young.person_id]["matched_clauses"]
    assert result["not_referred_by_clause"] == {"age": 1, "occupation": 1, "consent": 1}
    assert (result["would_refer"], result["would_hold"]) == (1, 1)
    assert await funding.referrals() == before  # nothing changed
    product = ok(await funding.client.get("/products/tcg-micro-guarantee"), 200)
    assert product["live_version"] == 1

    # Published, it decides from now on: the next fact about the young gardener refers them.
    published = ok(await funding.client.post("/products/tcg-micro-guarantee/rules/2/publish"), 200)
    assert published["status"] == "live"
    versions = ok(await funding.client.get("/products/tcg-micro-guarantee"), 200)["versions"]
    assert [v["status"] for v in versions] == ["retired", "live"]
    again = ok(await funding.client.post("/products/tcg-micro-guarantee/rules/2/publish"), 409)
    assert "only a draft" in again["detail"]
    await up.send(award(young, "gardener", 1))
    rows = await eventually(
        lambda: funding.referrals(person_id=young.person_id),
        lambda rows: len(rows) == 1,
        what="referral under version 2",
    )
    assert rows[0]["rule_version"] == 2 and rows[0]["product_code"] == "tcg-micro-guarantee"
    assert old and mechanic  # evaluated, not referred


async def _replica(funding: RunningFunding) -> dict[str, int]:
    return ok(await funding.client.get("/replica"), 200)  # type: ignore[no-any-return]


async def test_bad_rules_and_unknown_things_get_field_level_errors(
    funding: RunningFunding,
) -> None:
    bad = await funding.client.post(
        "/products",
        json={"code": "x", "lender_code": "gsb", "name": "x", "rules": {"min_level": 0}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "rules.min_level"
    unknown = await funding.client.post(
        "/products",
        json={"code": "x", "lender_code": "nobody", "name": "x", "rules": {}},
    )
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "lender_code"
    anonymous = await funding.client.get("/referrals", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert (await funding.client.get("/referrals/nope")).status_code == 404


async def test_a_referral_blocked_by_a_missing_fact_says_so(funding: RunningFunding) -> None:
    """Issue 12: a certified, consenting person with no birth date got no referral and
    nothing said why. The person's referral view names the product, clause and fact."""
    up = funding.upstream
    before = funding.processed()
    no_birth = await person(up, birth_year=None, consent=[None], occupation="housekeeper")
    no_household = await person(up, consent=[None], occupation="housekeeper")
    too_old = await person(up, birth_year=1930, consent=[None], occupation="housekeeper")
    await funding.settled(before, up.sent)

    async def view(someone_id: str) -> dict[str, Any]:
        return ok(await funding.client.get(f"/people/{someone_id}/referrals"), 200)  # type: ignore[no-any-return]

    def blocked(body: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(b["product_code"], b["clause"], b["missing"]) for b in body["blocked"]}

    first = await view(no_birth.person_id)
    assert first["referrals"] == []
    assert blocked(first) == {
        ("gsb-occupation-loan", "age", "birth_date"),
        ("village-fund-community-loan", "age", "birth_date"),
        ("village-fund-community-loan", "income", "household_income"),
    }
    assert {b["text"] for b in first["blocked"]} >= {"age unknown in 20-65"}

    # Referred to GSB; the Village Fund waits for the household's income.
    second = await eventually(
        lambda: view(no_household.person_id),
        lambda body: len(body["referrals"]) == 1,
        what="gsb referral",
    )
    assert second["referrals"][0]["product_code"] == "gsb-occupation-loan"
    assert blocked(second) == {("village-fund-community-loan", "income", "household_income")}

    # Too old for both: a fact that fails on its value is no block (the income aside).
    assert (await view(too_old.person_id))["blocked"] == []
    assert await funding.referrals(person_id=too_old.person_id) == []

    unknown = await funding.client.get(f"/people/{uuid.uuid4()}/referrals")
    assert unknown.status_code == 404
