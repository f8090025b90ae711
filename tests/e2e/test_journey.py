"""Four services as separate processes, a real broker and PostgreSQL: the whole journey."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from stdnum.th import pin

from deploy.clients.certification import (
    Candidate,
    CertificationClient,
    standard_code,
    unit_results,
)
from deploy.clients.funding import FundingClient, sent
from deploy.clients.training import TrainingClient, attendance
from deploy.scenarios.pii import Seeded, leaks
from deploy.stack.launcher import SERVICES, Stack
from deploy.stack.topics import Observed, distinct, read_topics
from shared.events import (
    LoanApproved,
    LoanDisbursed,
    LoanReferralAcknowledged,
    LoanReferralCreated,
    LoanReferralShared,
    TrainingCompleted,
    TrainingNotCompleted,
)
from shared.topics import BROADCAST_TOPICS, FUNDING, TRAINING, partner_topic
from tests.support import TraceCollector, eventually

# Products are the funding service's seed catalogue (services/funding/data/catalogue.json):
# gsb-occupation-loan (food and beverage, housekeeper, ...; level 1; age 20-65),
# smed-startup-loan (food and beverage, mechanic, ...; level 2; age 20-60),
# tcg-micro-guarantee (security guard, gardener, mechanic, ...; level 2; age 20-70).
# Everyone here was born in 1990.
BIRTH_DATE = "1990-03-15"


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
    Person("did not finish training", "security-guard", 2, [None], completes=False),
    Person("no product matches", "plumber", 3, [None]),
    Person("level too low for smed and tcg", "mechanic", 1, [None]),
    Person("assessed twice", "security-guard", 2, [None], assessed_twice=True),
    Person("level 1 housekeeper", "housekeeper", 1, [None]),
]
# Sent to the lender (every clause matched) ...
EXPECTED = {
    "eligible for two products": {"gsb-occupation-loan", "smed-startup-loan"},
    "consent for gsb only": {"gsb-occupation-loan"},
    "assessed twice": {"tcg-micro-guarantee"},
    "level 1 housekeeper": {"gsb-occupation-loan"},
}
# ... or held, everything but the consent matched.
HELD = {
    "no consent": {"gsb-occupation-loan", "smed-startup-loan"},
    "consent for gsb only": {"smed-startup-loan"},
}
# The example lender (examples/partner_lender) runs for gsb: approves level 2 and pays out,
# declines level 1.
GSB_OUTCOME = {
    "eligible for two products": "disbursed",
    "consent for gsb only": "disbursed",
    "level 1 housekeeper": "declined",
}
TRACED = "eligible for two products"


def national_id() -> str:
    body = "1" + "".join(secrets.choice("0123456789") for _ in range(11))
    return body + pin.calc_check_digit(body)


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


PROGRAMME = "e2e"
DATES = [datetime.date(2024, 6, 3) + datetime.timedelta(days=i) for i in range(5)]
DAY_PLAN = ((1, 3, "knowledge-transfer"), (4, 4, "study-visit"), (5, 5, "home-practice"))


def cohort_of(person: Person) -> str:
    # A course per occupation (certification matches training by occupation), a cohort per
    # course. The traced journey has a cohort of its own: its closure request carries the
    # trace into TrainingCompleted, and no other journey should join that trace.
    return (
        f"e2e-{person.occupation}-traced" if person.label == TRACED else f"e2e-{person.occupation}"
    )


@pytest.fixture(scope="module")
async def journeys(stack: Stack) -> dict[str, Person]:
    """Drive every person through the HTTP APIs (as programme staff would)."""
    trace_id = secrets.token_hex(16)
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    # One journey is one trace: the client names it on every call, as a front end would.
    traceparent = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    training = stack.url("training")
    async with (
        httpx.AsyncClient(timeout=30, headers=auth) as plain,
        httpx.AsyncClient(timeout=30, headers={**auth, **traceparent}) as traced,
    ):

        def client_of(person: Person) -> httpx.AsyncClient:
            return traced if person.label == TRACED else plain

        for person in PEOPLE:
            person.national_id = national_id()
            person.person_id = expect(
                await client_of(person).post(
                    f"{stack.url('registry')}/people",
                    json={
                        "national_id": person.national_id,
                        "first_name_th": "สมหญิง",
                        "last_name_th": "ทดสอบ",
                        "first_name_en": "Somying",
                        "last_name_en": "Thotsop",
                        "birth_date": BIRTH_DATE,
                        "phone": "0811111111",
                        "address": {
                            "province_code": "10",
                            "house_no": "99/1",
                            "street": "ถนนมิตรภาพ",
                        },
                        "consents": [
                            {
                                "purpose": "loan-referral",
                                "lender_code": code,
                                "data_categories": ["contact"],
                            }
                            for code in person.consent
                        ],
                    },
                ),
                201,
            )["person_id"]

        occupations = sorted({p.occupation for p in PEOPLE})
        await TrainingClient(plain, training).ensure_programme(
            code=PROGRAMME,
            name="End-to-end programme",
            owner_code="ieat",
            year=2024,
            occupations=occupations,
            target_total=len(PEOPLE),
        )
        for occupation in occupations:
            await TrainingClient(plain, training).ensure_course(
                code=f"e2e-{occupation}",
                programme_code=PROGRAMME,
                occupation=occupation,
                title=occupation,
                days=5,
                hours=30,
                day_plan=DAY_PLAN,
                min_attendance_days=4,
            )
        cohorts: dict[str, list[Person]] = {}
        for person in PEOPLE:
            cohorts.setdefault(cohort_of(person), []).append(person)
        for code, members in cohorts.items():
            cohort = TrainingClient(client_of(members[0]), training)
            await cohort.ensure_cohort(
                code=code,
                course_code=f"e2e-{members[0].occupation}",
                venue={"kind": "learning-centre", "code": "e2e-centre"},
                dates=DATES,
                capacity=len(members),
            )
            # 404 until the registry's PersonRegistered has reached training: retried.
            applied = await cohort.apply_all(code, [p.person_id for p in members])
            assert {a["status"] for a in applied.values()} == {"applied"}, applied
            await cohort.select(code)
            # Four of five days complete the course; two do not.
            days = {p.person_id: 5 if p.completes else 2 for p in members}
            await cohort.record_attendance(code, attendance(DATES, days))
            await cohort.close(code)
        # A TPQI session per standard; the traced journey has its own (its results request
        # carries the trace into the award). Assessed after closure here: the award follows
        # at once from the TrainingCompleted already replicated.
        certification = stack.url("certification")
        sessions: dict[str, list[Person]] = {}
        for person in PEOPLE:
            if person.completes:
                standard = standard_code(person.occupation, person.level)
                key = f"e2e-{standard}-traced" if person.label == TRACED else f"e2e-{standard}"
                sessions.setdefault(key, []).append(person)
        for code, members in sessions.items():
            assessor = CertificationClient(client_of(members[0]), certification)
            standard = standard_code(members[0].occupation, members[0].level)
            units = await assessor.standard(standard)
            await assessor.ensure_session(code=code, standard_code=standard, held_on=DATES[-1])
            await assessor.register_candidates(
                code, [Candidate(p.person_id, "สมหญิง ทดสอบ") for p in members]
            )
            results = {p.person_id: unit_results(units, p.passes) for p in members}
            recorded = await assessor.record_results(code, results)
            passes = {p.person_id: p.passes for p in members}
            for r in recorded:  # awaiting-training: TrainingCompleted is not there yet
                want = {"awarded", "awaiting-training"} if passes[r["person_id"]] else {"failed"}
                assert r["status"] in want, r
            twice = {p.person_id: results[p.person_id] for p in members if p.assessed_twice}
            if twice:  # the same results again: nothing new is decided or issued
                again = await assessor.record_results(code, twice)
                assert not any(r["created"] for r in again), again
    people = {p.label: p for p in PEOPLE}
    people["_trace"] = Person(trace_id, "", 0, [])
    return people


async def test_attendance_decides_completion(stack: Stack, journeys: dict[str, Person]) -> None:
    ids = {p.person_id for p in PEOPLE}
    completed, not_completed = TrainingCompleted.ce_type(), TrainingNotCompleted.ce_type()

    async def outcomes() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {completed: set(), not_completed: set()}
        for record in distinct(await read_topics(stack.bootstrap, [TRAINING])):
            if record.key in ids and record.ce_type in found:
                found[record.ce_type].add(record.key)
        return found

    found = await eventually(
        outcomes,
        lambda f: len(f[completed]) + len(f[not_completed]) >= len(PEOPLE),
        what="every learner's training outcome",
    )
    assert found[not_completed] == {p.person_id for p in PEOPLE if not p.completes}
    assert found[completed] == {p.person_id for p in PEOPLE if p.completes}


def _operator(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {stack.admin_key}"})


async def _referrals(stack: Stack) -> list[dict[str, Any]]:
    async with _operator(stack) as client:
        return await FundingClient(client, stack.url("funding")).referrals()


async def test_referrals_exactly_as_the_rules_say(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    want = sum(len(v) for v in EXPECTED.values())
    held = sum(len(v) for v in HELD.values())
    await eventually(
        lambda: _referrals(stack), lambda r: len(r) >= want + held, what="referrals made"
    )
    awarded = sum(1 for p in PEOPLE if p.completes and p.passes)
    await eventually(
        lambda: _counts(stack),
        lambda c: c["qualifications"] == awarded,
        what="funding has seen every award",
    )
    found = await _referrals(stack)
    for person in PEOPLE:
        mine = [r for r in found if r["person_id"] == person.person_id]
        told = {r["product_code"] for r in sent(mine)}
        waiting = {r["product_code"] for r in mine if r["status"] == "held"}
        assert told == EXPECTED.get(person.label, set()), person.label
        assert waiting == HELD.get(person.label, set()), person.label
    assert len(found) == want + held  # never two for the same person and product


async def _counts(stack: Stack) -> dict[str, int]:
    async with _operator(stack) as client:
        return await FundingClient(client, stack.url("funding")).counts()


async def test_partner_sees_valid_cloudevents_of_its_own_referrals(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    want = {
        journeys[label].person_id
        for label, products in EXPECTED.items()
        if "gsb-occupation-loan" in products
    }
    shared = LoanReferralShared.ce_type()

    async def referrals_on_topic() -> list[Observed]:
        records = distinct(await read_topics(stack.bootstrap, [partner_topic("gsb")]))
        return [r for r in records if r.ce_type == shared]

    records = await eventually(
        referrals_on_topic,
        lambda found: {r.key for r in found} >= want,
        what="gsb partner topic filled",
    )
    assert {r.key for r in records} == want
    for record in records:
        for header in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"):
            assert record.headers.get(header), header
        assert record.data["lender_code"] == "gsb"
        assert record.data["person_id"] == record.key
        # Only what the person consented to share with gsb: contact, not identity.
        applicant: Any = record.data["applicant"]
        if applicant is not None:  # the registry's share may follow the referral
            assert applicant["national_id"] is None and applicant["first_name_th"] is None
    with_phone = await eventually(
        referrals_on_topic,
        lambda found: (
            {
                r.key
                for r in found
                if (r.data.get("applicant") or {}).get("phone")  # type: ignore[union-attr]
            }
            >= want
        ),
        what="the consented phone numbers reached gsb",
    )
    assert {r.data["applicant"]["phone"] for r in with_phone if r.data["applicant"]} == {  # type: ignore[index]
        "0811111111"
    }
    # Nothing about anyone else's referrals on gsb's topic.
    every = distinct(await read_topics(stack.bootstrap, [partner_topic("gsb")]))
    assert {r.data["lender_code"] for r in every} == {"gsb"}


async def test_example_lender_decides_through_the_partner_api(
    stack: Stack, journeys: dict[str, Person], lender: Any
) -> None:
    """examples/partner_lender, a separate process with gsb's key, read its topic with a plain
    Kafka client and acknowledged, decided and paid out through the partner API."""
    ids = {journeys[label].person_id: outcome for label, outcome in GSB_OUTCOME.items()}

    async def gsb_statuses() -> dict[str, str]:
        rows = await _referrals(stack)
        return {
            r["person_id"]: r["status"]
            for r in rows
            if r["lender_code"] == "gsb" and r["person_id"] in ids
        }

    statuses = await eventually(
        gsb_statuses, lambda found: found == ids, timeout=90, what="gsb's decisions"
    )
    assert statuses == ids
    rows = [r for r in await _referrals(stack) if r["lender_code"] == "gsb"]
    paid = [r for r in rows if r["status"] == "disbursed"]
    assert paid and all(r["disbursed_amount"] == 50_000 for r in paid)
    assert all(r["decline_reason"] == "outside-policy" for r in rows if r["status"] == "declined")
    steps = [
        LoanReferralAcknowledged.ce_type(),
        LoanApproved.ce_type(),
        LoanDisbursed.ce_type(),
    ]
    records = distinct(await read_topics(stack.bootstrap, [FUNDING]))
    for person_id in (p for p, outcome in ids.items() if outcome == "disbursed"):
        mine = [r.ce_type for r in records if r.key == person_id and r.ce_type in steps]
        assert mine.count(LoanDisbursed.ce_type()) == 1  # paid once, however often retried
        assert set(mine) == set(steps)


async def test_no_national_id_or_name_on_broadcast_topics(
    stack: Stack, journeys: dict[str, Person]
) -> None:
    await eventually(lambda: _referrals(stack), lambda r: len(r) >= 4, what="journeys done")
    records = await read_topics(stack.bootstrap, list(BROADCAST_TOPICS))
    assert len(records) >= 5 * len(PEOPLE) - 10  # the topics really were read
    assert {r.topic for r in records} == set(BROADCAST_TOPICS)  # every one of them
    seeded = [
        Seeded(
            p.national_id,
            names=[("สมหญิง", "ทดสอบ"), ("Somying", "Thotsop")],
            phones=["0811111111"],  # the consented phone goes to gsb's topic only
            addresses=[("99/1", "ถนนมิตรภาพ")],
        )
        for p in PEOPLE
    ]
    assert leaks([(r.topic, r.headers, r.data) for r in records], seeded) == []
    # The scanner is not blind here: the consented phone is on gsb's own topic.
    partner = await read_topics(stack.bootstrap, [partner_topic("gsb")])
    assert leaks([(r.topic, r.headers, r.data) for r in partner], seeded)


async def test_one_trace_spans_every_service(
    stack: Stack, journeys: dict[str, Person], collector: TraceCollector
) -> None:
    trace_id = journeys["_trace"].label
    # The dashboard's consumer joins it too: it takes in the journey's events.
    services = await eventually(
        lambda: _services_in(collector, trace_id),
        lambda found: len(found) == len(SERVICES),
        what="spans of the journey from every service",
    )
    assert services == {f"skillbridge-{s}" for s in SERVICES}
    person = journeys[TRACED].person_id
    # What the journey caused (not the lender's later answers, which are its own requests).
    referrals = [
        r
        for r in distinct(await read_topics(stack.bootstrap, ["skillbridge.funding.v1"]))
        if r.key == person and r.ce_type == LoanReferralCreated.ce_type()
    ]
    assert referrals and all(trace_id in r.headers["traceparent"] for r in referrals)


async def _services_in(collector: TraceCollector, trace_id: str) -> set[str]:
    return collector.services_in_trace(trace_id)


async def test_bad_input_gets_field_level_4xx(stack: Stack, journeys: dict[str, Person]) -> None:
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        httpx.AsyncClient(timeout=10, headers=auth) as operator,
    ):
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
        assert bad_id.json()["errors"][0]["field"] == "national_id"
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
        # An open cohort, so the person (not a closed cohort) is what the answer is about.
        await TrainingClient(operator, stack.url("training")).ensure_cohort(
            code="e2e-open",
            course_code="e2e-plumber",
            venue={"kind": "learning-centre", "code": "e2e-centre"},
            dates=DATES,
            capacity=5,
        )
        application = {"person_id": "00000000-0000-4000-8000-000000000000"}
        applications = f"{stack.url('training')}/cohorts/e2e-open/applications"
        unknown = await operator.post(applications, json=application)
        assert unknown.status_code == 404, unknown.text
        anonymous = await client.post(applications, json=application)
        assert anonymous.status_code == 401, anonymous.text
        certification = stack.url("certification")
        anonymous_session = await client.post(f"{certification}/sessions", json={})
        assert anonymous_session.status_code == 401
        malformed = await operator.post(
            f"{certification}/sessions/e2e-x/results",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 422
        level = await operator.post(
            f"{certification}/standards",
            json={
                "code": "e2e-gardener-l9",
                "occupation": "gardener",
                "occupation_title": "Gardener",
                "level": 9,
                "title": "Gardener, level 9",
                "valid_years": 3,
                "units": [{"code": "GD-01", "title": "Prepare soil", "required": True}],
            },
        )
        assert level.status_code == 422
        assert level.json()["errors"][0]["field"] == "level"
        unknown = await client.get(f"{certification}/verify/SB-2024-0000000000")
        assert unknown.status_code == 404


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
    async with httpx.AsyncClient(timeout=10, headers=auth) as client:

        async def certificates() -> httpx.Response:
            return await client.get(
                f"{stack.url('certification')}/certificates", params={"person_id": person.person_id}
            )

        # The certificate stays and stays verifiable by number; the name goes.
        held = await eventually(
            certificates,
            lambda r: len(r.json()) == 1 and r.json()[0]["holder_name"] is None,
            what="certification dropped the holder's name",
        )
        verified = await client.get(held.json()[0]["verification_url"])
        assert verified.json()["status"] == "valid" and verified.json()["holder_initials"] is None
        other_reads += [held, verified]
    readable = "\n".join(r.text for r in registry_reads + other_reads)
    readable += "\n".join(f"{r.headers} {r.data}" for r in records)
    for value in (person.national_id, "สมหญิง", "ทดสอบ"):
        assert value not in readable
