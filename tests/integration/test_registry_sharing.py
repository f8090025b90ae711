"""Consented personal data reaches funding's private topic, and only what was consented
(decision 0010): the registry on the real broker and database, driven over HTTP."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from deploy.stack.topics import Observed, read_topics
from shared.events import PersonalDataShared
from shared.topics import REGISTRY
from tests.support import RunningRegistry, eventually, ok
from tests.support.registry import HEADER, finished, person, upload

PRIVATE = PersonalDataShared.topic()


async def shared_for(registry: RunningRegistry, person_id: str, count: int) -> list[Observed]:
    """The PersonalDataShared records of one person, once at least `count` are on the broker."""

    async def probe() -> list[Observed]:
        seen = await read_topics(registry.service.settings.kafka_bootstrap_servers, [PRIVATE])
        return [o for o in seen if o.key == person_id]

    return await eventually(probe, lambda found: len(found) >= count, what="shares on broker")


async def test_only_consented_categories_reach_the_private_topic(
    registry: RunningRegistry,
) -> None:
    body = person(consents=[{"lender_code": "gsb", "data_categories": ["identity", "contact"]}])
    created = ok(await registry.client.post("/people", json=body), 201)
    pid = created["person_id"]
    [first] = await shared_for(registry, pid, 1)
    assert first.ce_type == PersonalDataShared.ce_type()
    data: dict[str, Any] = first.data["data"]  # type: ignore[assignment]
    assert first.data["lender_code"] == "gsb"
    assert data["national_id"] == body["national_id"] and data["phone"] == "0812345678"
    assert data["first_name_th"] == "มาลี" and data["birth_date"] == "1987-05-12"
    # Address and income were not consented: absent, though the registry holds them.
    assert data["house_no"] is None and data["subdistrict"] is None
    assert data["monthly_income"] is None

    # A covered field changes: shared again. An uncovered one: not.
    ok(await registry.client.patch(f"/people/{pid}", json={"phone": "0899999999"}), 200)
    ok(
        await registry.client.patch(
            f"/people/{pid}", json={"address": {**body["address"], "house_no": "7"}}
        ),
        200,
    )
    ok(await registry.client.patch(f"/people/{pid}", json={"last_name_en": "Sukjai"}), 200)
    shares = await shared_for(registry, pid, 3)
    phones = [s.data["data"]["phone"] for s in shares]  # type: ignore[index]
    assert phones == ["0812345678", "0899999999", "0899999999"], phones
    assert all(s.data["data"]["house_no"] is None for s in shares)  # type: ignore[index]

    # Nothing personal on the broadcast topic meanwhile.
    broadcast = await read_topics(registry.service.settings.kafka_bootstrap_servers, [REGISTRY])
    blob = "".join(str(o.data) for o in broadcast if o.key == pid)
    assert body["national_id"] not in blob and "0899999999" not in blob


async def test_income_is_shared_with_its_consent_and_withdrawal_stops_sharing(
    registry: RunningRegistry,
) -> None:
    consents = [
        {"data_categories": ["household-income"]},  # any lender
        {"lender_code": "tcg"},  # no categories: nothing to share
    ]
    pid = ok(await registry.client.post("/people", json=person(consents=consents)), 201)[
        "person_id"
    ]
    household = ok(
        await registry.client.post(
            "/households", json={"province_code": "34", "members": [pid], "monthly_income": 4200}
        ),
        201,
    )
    ok(
        await registry.client.post(
            f"/households/{household['household_id']}/income", json={"monthly_income": 5100}
        ),
        201,
    )
    shares = await shared_for(registry, pid, 3)
    incomes = [s.data["data"]["monthly_income"] for s in shares]  # type: ignore[index]
    assert incomes[0] is None and incomes[-2:] == [4200, 5100], incomes
    assert {s.data["lender_code"] for s in shares} == {None}
    assert all(s.data["data"]["phone"] is None for s in shares)  # type: ignore[index]

    read = ok(await registry.client.get(f"/people/{pid}"), 200)
    [income_consent] = [c for c in read["consents"] if c["data_categories"]]
    ok(
        await registry.client.post(
            f"/people/{pid}/consents/{income_consent['consent_id']}/withdrawal"
        ),
        200,
    )
    ok(
        await registry.client.post(
            f"/households/{household['household_id']}/income", json={"monthly_income": 9000}
        ),
        201,
    )

    # A later share would be the fourth record; wait for the income event itself, then check.
    async def income_events() -> int:
        seen = await read_topics(registry.service.settings.kafka_bootstrap_servers, [REGISTRY])
        return sum(
            o.ce_type.endswith("HouseholdIncomeRecorded.v1") and o.key == household["household_id"]
            for o in seen
        )

    await eventually(income_events, lambda n: n >= 3, what="third income on broker")
    after = await shared_for(registry, pid, 3)
    assert len(after) == 3, [s.data for s in after]


async def test_a_merge_shares_the_moved_consent_for_the_survivor(
    registry: RunningRegistry,
) -> None:
    survivor = ok(await registry.client.post("/people", json=person(phone=None)), 201)
    retired = ok(
        await registry.client.post(
            "/people",
            json=person(consents=[{"lender_code": "smed", "data_categories": ["contact"]}]),
        ),
        201,
    )
    [before] = await shared_for(registry, retired["person_id"], 1)
    ok(
        await registry.client.post(
            "/merges",
            json={"survivor_id": survivor["person_id"], "merged_id": retired["person_id"]},
        ),
        200,
    )
    [after] = await shared_for(registry, survivor["person_id"], 1)
    assert after.data["consent_id"] == before.data["consent_id"]
    # The survivor had no phone; the merge kept the retired record's, and that is shared.
    assert after.data["data"]["phone"] == "0812345678"  # type: ignore[index]


async def test_an_import_that_changes_a_household_income_shares_it_again(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    body = person(consents=[{"lender_code": "gsb", "data_categories": ["household-income"]}])
    pid = ok(await registry.client.post("/people", json=body), 201)["person_id"]
    code = f"hh-{secrets.token_hex(4)}"

    async def import_row(income: int) -> None:
        csv = tmp_path / f"{income}.csv"
        csv.write_text(
            HEADER + f"{body['national_id']},มาลี,ศรีสุข,1987-05-12,34,,{code},{income},0812345678\n"
        )
        job = await finished(registry.client, (await upload(registry.client, csv))["import_id"], 60)
        assert (job["created"], job["rejected"]) == (0, 0), job

    await import_row(4000)  # the person joins a new household with this income
    await import_row(6000)  # the household's income changes
    shares = await shared_for(registry, pid, 3)
    assert [s.data["data"]["monthly_income"] for s in shares] == [None, 4000, 6000]  # type: ignore[index]
