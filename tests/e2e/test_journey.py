"""Four services as separate processes, a real broker and PostgreSQL: the whole journey."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from stdnum.th import pin

from deploy.funnel import distinct, read_topics
from deploy.launcher import Stack
from shared.events import LoanReferralCreated
from shared.topics import BROADCAST_TOPICS, partner_topic
from tests.support import TraceCollector, eventually

PRODUCTS = [
    # (lender, product, occupations, min level)
    ("gsb", "gsb-e2e", ["food-and-beverage-production", "housekeeper"], 1),
    ("smed", "smed-e2e", ["food-and-beverage-production", "mechanic"], 2),
    ("tcg", "tcg-e2e", ["security-guard"], 1),
]


@dataclass
class Person:
    label: str
    occupation: str
    level: int
    consent: list[str | None]  # lender codes consented to (None = any lender)
    completes: bool = True
    passes: bool = True
    assessed_twice: bool = False
    person_id: str = ""
    national_id: str = ""


PEOPLE = [
    Person("eligible for two products", "food-and-beverage-production", 2, [None]),
    Person("no consent", "food-and-beverage-production", 2, []),
    Person("consent for gsb only", "food-and-beverage-production", 2, ["gsb"]),
    Person("failed the assessment", "housekeeper", 1, [None], passes=False),
    Person("did not finish training", "security-guard", 1, [None], completes=False),
    Person("no product matches", "gardener", 3, [None]),
    Person("level too low for smed", "mechanic", 1, [None]),
    Person("assessed twice", "security-guard", 1, [None], assessed_twice=True),
]
EXPECTED = {
    "eligible for two products": {"gsb-e2e", "smed-e2e"},
    "consent for gsb only": {"gsb-e2e"},
    "assessed twice": {"tcg-e2e"},
}
TRACED = "eligible for two products"


def national_id() -> str:
    body = "1" + "".join(secrets.choice("0123456789") for _ in range(11))
    return body + pin.calc_check_digit(body)


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def journeys(stack: Stack) -> dict[str, Person]:
    """Drive every person through the HTTP APIs (as programme staff would)."""
    trace_id = secrets.token_hex(16)
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    with httpx.Client(timeout=30) as client:
        for lender, product, occupations, level in PRODUCTS:
            expect(
                client.post(
                    f"{stack.url('funding')}/lenders", json={"code": lender, "name": lender.upper()}
                ),
                201,
            )
            expect(
                client.post(
                    f"{stack.url('funding')}/products",
                    json={
                        "code": product,
                        "lender_code": lender,
                        "name": product,
                        "rule": {"occupations": occupations, "min_level": level},
                    },
                ),
                201,
            )
        for person in PEOPLE:
            # One journey is one trace: the client names it on every call, as a front end would.
            headers = (
                {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
                if person.label == TRACED
                else {}
            )
            person.national_id = national_id()
            person.person_id = expect(
                client.post(
                    f"{stack.url('registry')}/people",
                    headers={**headers, **auth},
                    json={
                        "national_id": person.national_id,
                        "first_name_th": "สมหญิง",
                        "last_name_th": "ทดสอบ",
                        "address": {"province_code": "10"},
                        "consents": [
                            {"purpose": "loan-referral", "lender_code": code}
                            for code in person.consent
                        ],
                    },
                ),
                201,
            )["person_id"]
            deadline = time.monotonic() + 60
            while True:
                response = client.post(
                    f"{stack.url('training')}/enrolments",
                    headers=headers,
                    json={
                        "person_id": person.person_id,
                        "programme_code": "e2e",
                        "cohort_code": "e2e-1",
                        "occupation": person.occupation,
                    },
                )
                if response.status_code != 404 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # the registry's event has not reached training yet
            enrolment = expect(response, 201)["enrolment_id"]
            base = f"{stack.url('training')}/enrolments/{enrolment}"
            if not person.completes:
                expect(
                    client.post(
                        f"{base}/non-completion", headers=headers, json={"reason": "moved away"}
                    ),
                    200,
                )
                continue
            expect(client.post(f"{base}/completion", headers=headers, json={"hours": 30}), 200)
            for _ in range(2 if person.assessed_twice else 1):
                expect(
                    client.post(
                        f"{stack.url('certification')}/assessments",
                        headers=headers,
                        json={
                            "person_id": person.person_id,
                            "occupation": person.occupation,
                            "level": person.level,
                            "passed": person.passes,
                        },
                    ),
                    201,
                )
    people = {p.label: p for p in PEOPLE}
    people["_trace"] = Person(trace_id, "", 0, [])
    return people


async def _referrals(stack: Stack) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{stack.url('funding')}/referrals")
        return list(response.json())


async def test_referrals_exactly_as_the_rules_say(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    want = sum(len(v) for v in EXPECTED.values())
    await eventually(lambda: _referrals(stack), lambda r: len(r) >= want, what="referrals made")
    awarded = sum(1 for p in PEOPLE if p.completes and p.passes)
    await eventually(
        lambda: _counts(stack),
        lambda c: c["qualifications"] == awarded,
        what="funding has seen every award",
    )
    found = await _referrals(stack)
    for person in PEOPLE:
        products = {r["product_code"] for r in found if r["person_id"] == person.person_id}
        assert products == EXPECTED.get(person.label, set()), person.label
    assert len(found) == want  # never two for the same person and product


async def _counts(stack: Stack) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as client:
        return dict((await client.get(f"{stack.url('funding')}/counts")).json())


async def test_partner_sees_valid_cloudevents_of_its_own_referrals(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    want = {
        journeys[label].person_id for label, products in EXPECTED.items() if "gsb-e2e" in products
    }
    records = await eventually(
        lambda: read_topics(stack.bootstrap, [partner_topic("gsb")]),
        lambda found: {r.key for r in found} >= want,
        what="gsb partner topic filled",
    )
    assert {r.key for r in records} == want
    for record in records:
        for header in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"):
            assert record.headers.get(header), header
        assert record.headers["ce_type"] == LoanReferralCreated.ce_type()
        assert record.data["lender_code"] == "gsb"
        assert record.data["person_id"] == record.key


async def test_no_national_id_or_name_on_broadcast_topics(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    await eventually(lambda: _referrals(stack), lambda r: len(r) >= 4, what="journeys done")
    records = await read_topics(stack.bootstrap, list(BROADCAST_TOPICS))
    assert len(records) >= 5 * len(PEOPLE) - 10  # the topics really were read
    blob = "\n".join(f"{r.headers} {r.data}" for r in records)
    for person in PEOPLE:
        assert person.national_id not in blob
    assert "สมหญิง" not in blob and "ทดสอบ" not in blob


async def test_one_trace_spans_all_four_services(
    stack: Stack, journeys: dict[str, Person], collector: TraceCollector
) -> None:
    trace_id = journeys["_trace"].label
    services = await eventually(
        lambda: _services_in(collector, trace_id),
        lambda found: len(found) == 4,
        what="spans of the journey from all four services",
    )
    assert services == {
        f"skillbridge-{s}" for s in ("registry", "training", "certification", "funding")
    }
    person = journeys[TRACED].person_id
    referrals = [
        r
        for r in distinct(await read_topics(stack.bootstrap, ["skillbridge.funding.v1"]))
        if r.key == person
    ]
    assert referrals and all(trace_id in r.headers["traceparent"] for r in referrals)


async def _services_in(collector: TraceCollector, trace_id: str) -> set[str]:
    return collector.services_in_trace(trace_id)


async def test_bad_input_gets_field_level_4xx(stack: Stack, journeys: dict[str, Person]) -> None:
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(timeout=10) as client:
        bad_id = await client.post(
            f"{stack.url('registry')}/people",
            headers=auth,
            json={
                "national_id": "1234567890123",
                "first_name_th": "a",
                "last_name_th": "b",
                "address": {"province_code": "10"},
            },
        )
        assert bad_id.status_code == 422
        assert bad_id.json()["fields"][0]["field"] == "national_id"
        duplicate = await client.post(
            f"{stack.url('registry')}/people",
            headers=auth,
            json={
                "national_id": PEOPLE[0].national_id,
                "first_name_th": "a",
                "last_name_th": "b",
                "address": {"province_code": "10"},
            },
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["existing_person_id"] == PEOPLE[0].person_id
        unknown = await client.post(
            f"{stack.url('training')}/enrolments",
            json={
                "person_id": "00000000-0000-4000-8000-000000000000",
                "programme_code": "e2e",
                "cohort_code": "e2e-1",
                "occupation": "gardener",
            },
        )
        assert unknown.status_code == 404
        malformed = await client.post(
            f"{stack.url('certification')}/assessments",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 422
        level = await client.post(
            f"{stack.url('certification')}/assessments",
            json={
                "person_id": PEOPLE[0].person_id,
                "occupation": "gardener",
                "level": 9,
                "passed": True,
            },
        )
        assert level.status_code == 422
        assert level.json()["fields"][0]["field"] == "level"


async def test_erasure_leaves_no_personal_data_readable_anywhere(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    person = next(p for p in PEOPLE if p.label == "consent for gsb only")
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(timeout=10, headers=auth) as client:
        erased = await client.post(f"{stack.url('registry')}/people/{person.person_id}/erasure")
        assert erased.status_code == 200, erased.text
        registry_reads = [
            await client.get(f"{stack.url('registry')}/people/{person.person_id}{suffix}")
            for suffix in ("", "/export")
        ]
        assert [r.status_code for r in registry_reads] == [410, 410]
        other_reads = [
            await client.get(f"{stack.url('funding')}/referrals", params={"person_id": pid})
            for pid in (person.person_id,)
        ] + [await client.get(f"{stack.url(s)}/counts") for s in ("training", "certification")]
    records = await eventually(
        lambda: read_topics(stack.bootstrap, [BROADCAST_TOPICS[0]]),
        lambda found: any(
            r.key == person.person_id and r.headers["ce_type"].endswith("PersonErased.v1")
            for r in found
        ),
        what="PersonErased on the registry topic",
    )
    readable = "\n".join(r.text for r in registry_reads + other_reads)
    readable += "\n".join(f"{r.headers} {r.data}" for r in records)
    for value in (person.national_id, "สมหญิง", "ทดสอบ"):
        assert value not in readable
