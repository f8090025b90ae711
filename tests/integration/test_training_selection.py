"""The CDD community livelihood scenario (../shared/DOMAIN.md): 13 villages, a 5-day course,
20 households per village, lowest income first; more applicants than seats.

Registry and training run side by side on the real broker and database; training learns
people, households and incomes only from the registry's events.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.stack.topics import read_topics
from services.registry.settings import RegistrySettings
from shared.events import LearnerEnrolled, LearnerWithdrew, TrainingCompleted
from tests.support import (
    RunningRegistry,
    RunningTraining,
    error_fields,
    eventually,
    national_id,
    ok,
    tansu,
)


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of each test's own, so the replica holds exactly this test's registry data.
    (On the session broker, training's group would first read whatever other tests left on
    the registry topic: the import tests leave hundreds of thousands of events.)"""
    yield from tansu(tmp_path)


VILLAGES = [f"ubon-mss-{i:02d}" for i in range(1, 14)]
PER_VILLAGE = 26  # 6 more than the 20 seats
SEATS = 20
# A cohort that has ended: attendance and closure are taken only once its days have come.
START = date.today() - timedelta(days=30)
EDGES = RegistrySettings().income_band_edges


COHORT = {
    "venue": {"kind": "learning-centre", "code": "mss-centre"},
    "starts_on": START.isoformat(),
    "capacity": SEATS * len(VILLAGES),
}


def band_floor(income: int) -> int:
    return max(edge for edge in EDGES if edge <= income)


@dataclass
class Applicant:
    national_id: str
    village: str
    income: int
    person_id: str = ""
    application_id: str = ""
    applied_at: datetime | None = None

    def key(self) -> tuple[int, datetime, str]:
        """The published rule: lowest income band, then earlier application, then id."""
        assert self.applied_at is not None
        return (band_floor(self.income), self.applied_at, self.application_id)


async def register_people(registry: RunningRegistry, people: list[Applicant]) -> None:
    """Each applicant in a household of their own, with its monthly income."""

    async def one(p: Applicant) -> None:
        person = {
            "national_id": p.national_id,
            "first_name_th": "มาลี",
            "last_name_th": "ศรีสุข",
            "address": {"province_code": "34", "village_code": p.village},
        }
        p.person_id = ok(await registry.client.post("/people", json=person), 201)["person_id"]
        household = {
            "province_code": "34",
            "village_code": p.village,
            "members": [p.person_id],
            "monthly_income": p.income,
        }
        ok(await registry.client.post("/households", json=household), 201)

    limit = asyncio.Semaphore(8)

    async def limited(p: Applicant) -> None:
        async with limit:
            await one(p)

    await asyncio.gather(*(limited(p) for p in people))


async def replica_caught_up(training: RunningTraining, people: int) -> None:
    """Selection must see every household's income, not just the people (other keys)."""

    async def probe() -> dict[str, int]:
        return ok(await training.client.get("/replica"), 200)  # type: ignore[no-any-return]

    await eventually(
        probe,
        lambda r: (
            r["people"] >= people and r["households"] >= people and r["memberships"] >= people
        ),
        what="training replica",
    )


async def set_up(training: RunningTraining, code: str) -> None:
    programme = {
        "code": code,
        "name": "Sammachiv community livelihood, Muang Sam Sip",
        "owner_code": "cdd",
        "year": 2026,
        "occupations": ["community-enterprise-product-processing"],
        "target_total": SEATS * len(VILLAGES),
        "targets": [{"place_kind": "village", "place_code": v, "target": SEATS} for v in VILLAGES],
    }

    async def create() -> httpx.Response:
        return await training.client.post("/programmes", json=programme)

    # The owner is known to training only once the registry's seed event has arrived.
    ok(await eventually(create, lambda r: r.status_code != 404, what="cdd known"), 201)
    ok(await training.client.post("/programmes", json=programme), 200)  # idempotent
    # Only occupations a standard covers, or its trainees would wait for ever for one.
    uncovered = {**programme, "code": f"{code}-x", "occupations": ["gardener", "soap-making"]}
    refused = await training.client.post("/programmes", json=uncovered)
    assert refused.status_code == 422 and error_fields(refused.json()) == ["occupations.1"]
    assert (await training.client.get(f"/programmes/{code}-x")).status_code == 404
    ok(
        await training.client.post(
            "/courses",
            json={
                "code": f"{code}-course",
                "programme_code": code,
                "occupation": "community-enterprise-product-processing",
                "title": "Community products, 5 days",
                "days": 5,
                "hours": 30,
                "day_plan": [
                    {"from_day": 1, "to_day": 3, "activity": "knowledge-transfer"},
                    {"from_day": 4, "to_day": 4, "activity": "study-visit"},
                    {"from_day": 5, "to_day": 5, "activity": "home-practice"},
                ],
                "completion": {"min_attendance_days": 4, "practical_required": True},
            },
        ),
        201,
    )
    cohort = ok(
        await training.client.post(
            "/cohorts", json={**COHORT, "code": f"{code}-1", "course_code": f"{code}-course"}
        ),
        201,
    )
    assert cohort["village_cap"] == SEATS and cohort["one_per_household"] is True
    assert len(cohort["dates"]) == 5


async def ranking(training: RunningTraining, cohort: str, status: str) -> list[dict[str, Any]]:
    return ok(  # type: ignore[no-any-return]
        await training.client.get(f"/cohorts/{cohort}/applications", params={"status": status}), 200
    )


async def test_community_livelihood_selection_waitlist_and_completion(
    registry: RunningRegistry, training: RunningTraining, bootstrap: str
) -> None:
    rng = random.Random(13)
    code = f"cdd-mss-{rng.randrange(10**6):06d}"
    cohort = f"{code}-1"
    for v in VILLAGES:
        ok(
            await registry.client.post(
                "/places/villages", json={"code": v, "name_en": v, "province_code": "34"}
            ),
            201,
            200,
        )
    # Incomes from 2,000 up, so band 0-1,999 stays free for the late applicant below;
    # several share a band, so the tie-break (earlier application) is exercised.
    people = [
        Applicant(national_id(), v, rng.randrange(2_000, 16_000, 500))
        for v in VILLAGES
        for _ in range(PER_VILLAGE)
    ]
    await register_people(registry, people)
    await replica_caught_up(training, len(people))
    await set_up(training, code)

    # Apply in a shuffled order: application time is the tie-break, not the survey order.
    by_person = {p.person_id: p for p in people}
    order = [p.person_id for p in people]
    rng.shuffle(order)
    batch = ok(
        await training.client.post(
            f"/cohorts/{cohort}/applications/batch", json={"person_ids": order}
        ),
        200,
    )
    assert (batch["created"], batch["failed"]) == (len(people), 0)

    selection = ok(await training.client.post(f"/cohorts/{cohort}/selection"), 200)
    seats = SEATS * len(VILLAGES)
    assert (selection["enrolled"], selection["waitlisted"]) == (seats, len(people) - seats)
    again = await training.client.post(f"/cohorts/{cohort}/selection")
    assert again.status_code == 409

    all_apps = ok(await training.client.get(f"/cohorts/{cohort}/applications"), 200)
    for app in all_apps:
        applicant = by_person[app["person_id"]]
        applicant.application_id = app["application_id"]
        applicant.applied_at = datetime.fromisoformat(app["applied_at"])

    # Exactly the 20 lowest-income households of each village hold the seats.
    expected: dict[str, set[str]] = {}
    for v in VILLAGES:
        ranked = sorted((p for p in people if p.village == v), key=Applicant.key)
        expected[v] = {p.person_id for p in ranked[:SEATS]}
    seated = await ranking(training, cohort, "enrolled")
    got: dict[str, set[str]] = defaultdict(set)
    for app in seated:
        got[by_person[app["person_id"]].village].add(app["person_id"])
    assert got == expected

    # The waitlist is the rest, in rank order, and each applicant can read why.
    waitlist = await ranking(training, cohort, "waitlisted")
    want = sorted(
        (p for p in people if p.person_id not in set().union(*expected.values())), key=Applicant.key
    )
    assert [a["person_id"] for a in waitlist] == [p.person_id for p in want]
    assert [a["waitlist_position"] for a in waitlist] == list(range(1, len(want) + 1))
    assert "already has its 20 seats" in waitlist[0]["why"]
    assert "household income band" in seated[0]["why"] and seated[0]["why"].startswith(
        "Ranked 1 of"
    )

    # Withdrawals: each freed seat goes to the best-ranked waitlisted from that village.
    def best_waiting(village: str, waiting: list[dict[str, Any]]) -> str:
        return next(
            str(a["person_id"]) for a in waiting if by_person[a["person_id"]].village == village
        )

    for village in (VILLAGES[0], VILLAGES[0], VILLAGES[5]):
        waiting = await ranking(training, cohort, "waitlisted")
        leaving = next(
            a
            for a in await ranking(training, cohort, "enrolled")
            if by_person[a["person_id"]].village == village
        )
        result = ok(
            await training.client.post(
                f"/applications/{leaving['application_id']}/withdrawal",
                json={"reason": "moved to Bangkok"},
            ),
            200,
        )
        assert result["application"]["status"] == "withdrawn"
        assert [p["person_id"] for p in result["promoted"]] == [best_waiting(village, waiting)]
        after = await ranking(training, cohort, "waitlisted")
        promoted = result["promoted"][0]["person_id"]
        assert [a["person_id"] for a in after] == [
            a["person_id"] for a in waiting if a["person_id"] != promoted
        ]
        assert [a["waitlist_position"] for a in after] == list(range(1, len(after) + 1))
    twice = await training.client.post(
        f"/applications/{leaving['application_id']}/withdrawal", json={"reason": "again"}
    )
    assert twice.status_code == 409

    # A late applicant poorer than anyone waiting: the cohort is full, so waitlisted
    # (not refused), ahead of better-off applicants; the next seat in the village is theirs.
    late = Applicant(national_id(), VILLAGES[7], 500)
    await register_people(registry, [late])
    await replica_caught_up(training, len(people) + 1)
    placed = ok(
        await training.client.post(
            f"/cohorts/{cohort}/applications", json={"person_id": late.person_id}
        ),
        201,
    )
    assert placed["status"] == "waitlisted" and placed["waitlist_position"] == 1, placed
    assert "0-1,999 THB" in placed["why"]
    leaving = next(
        a
        for a in await ranking(training, cohort, "enrolled")
        if by_person[a["person_id"]].village == VILLAGES[7]
    )
    result = ok(
        await training.client.post(
            f"/applications/{leaving['application_id']}/withdrawal", json={"reason": "ill"}
        ),
        200,
    )
    assert [p["person_id"] for p in result["promoted"]] == [late.person_id]
    by_person[late.person_id] = late

    # Clear 4xx: applying twice, unknown person, attendance outside the cohort's dates.
    twice_applied = await training.client.post(
        f"/cohorts/{cohort}/applications", json={"person_id": late.person_id}
    )
    assert twice_applied.status_code == 409
    assert twice_applied.json()["existing_application_id"] == placed["application_id"]
    unknown = await training.client.post(
        f"/cohorts/{cohort}/applications",
        json={"person_id": "00000000-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "person_id"
    seated = await ranking(training, cohort, "enrolled")
    outside = await training.client.post(
        f"/cohorts/{cohort}/attendance",
        json={
            "records": [
                {"person_id": seated[0]["person_id"], "date": START.isoformat(), "present": True},
                {
                    "person_id": seated[0]["person_id"],
                    "date": (START - timedelta(days=1)).isoformat(),
                    "present": True,
                },
            ]
        },
    )
    assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "records.1.date"
    waiting_person = (await ranking(training, cohort, "waitlisted"))[0]["person_id"]
    no_seat = await training.client.post(
        f"/cohorts/{cohort}/attendance",
        json={
            "records": [{"person_id": waiting_person, "date": START.isoformat(), "present": True}]
        },
    )
    assert no_seat.status_code == 422

    # Attendance in bulk: five learners come 3 of 5 days; one fails the practical.
    short = {a["person_id"] for a in seated[:5]}
    failed_practical = seated[5]["person_id"]
    records = [
        {
            "person_id": a["person_id"],
            "date": (START + timedelta(days=d)).isoformat(),
            "present": d < 3 or a["person_id"] not in short,
        }
        for a in seated
        for d in range(5)
    ]
    ok(await training.client.post(f"/cohorts/{cohort}/attendance", json={"records": records}), 200)
    ok(
        await training.client.post(
            f"/cohorts/{cohort}/practicals",
            json={
                "results": [
                    {"person_id": a["person_id"], "passed": a["person_id"] != failed_practical}
                    for a in seated
                ]
            },
        ),
        200,
    )
    closure = ok(await training.client.post(f"/cohorts/{cohort}/closure"), 200)
    assert (closure["completed"], closure["not_completed"]) == (seats - 6, 6)
    reasons = {o["person_id"]: o["reason"] for o in closure["outcomes"] if not o["completed"]}
    assert set(reasons) == short | {failed_practical}
    assert all("attended 3 day(s)" in reasons[p] for p in short)
    assert reasons[failed_practical] == "practical not passed"
    assert (await training.client.post(f"/cohorts/{cohort}/closure")).status_code == 409

    # Achievement = the TrainingCompleted events partners receive from the broker.
    async def completed_events() -> list[Any]:
        observed = await read_topics(bootstrap, ["skillbridge.training.v1"])
        return [
            o
            for o in observed
            if o.ce_type == TrainingCompleted.ce_type() and o.data.get("programme_code") == code
        ]

    events = await eventually(
        completed_events, lambda e: len(e) >= seats - 6, what="events on broker"
    )
    assert len({e.data["enrolment_id"] for e in events}) == seats - 6
    achievement = ok(await training.client.get(f"/programmes/{code}/achievement"), 200)
    assert (achievement["target"], achievement["completed"]) == (seats, len(events))
    assert achievement["percent"] == round(100 * len(events) / seats, 1)
    per_village: dict[str, int] = defaultdict(int)
    for e in events:
        per_village[by_person[str(e.data["person_id"])].village] += 1
    assert {p["place_code"]: p["completed"] for p in achievement["places"]} == {
        v: per_village[v] for v in VILLAGES
    }
    assert all(e.data["hours"] == 30 and e.data["cohort_code"] == cohort for e in events)

    observed = await read_topics(bootstrap, ["skillbridge.training.v1"])
    mine = [o for o in observed if o.data.get("cohort_code") == cohort]
    assert sum(o.ce_type == LearnerWithdrew.ce_type() for o in mine) == 4
    assert sum(o.ce_type == LearnerEnrolled.ce_type() for o in mine) == seats + 4


async def test_erased_person_leaves_the_cohort_and_cannot_apply(
    registry: RunningRegistry, training: RunningTraining
) -> None:
    code = "cdd-erasure"
    ok(
        await registry.client.post(
            "/places/villages", json={"code": VILLAGES[0], "name_en": "v", "province_code": "34"}
        ),
        201,
        200,
    )
    people = [Applicant(national_id(), VILLAGES[0], 2_000 + 1_000 * i) for i in range(SEATS + 1)]
    await register_people(registry, people)
    await replica_caught_up(training, len(people))
    await set_up(training, code)
    cohort = f"{code}-1"
    ids = [p.person_id for p in people]
    ok(
        await training.client.post(
            f"/cohorts/{cohort}/applications/batch", json={"person_ids": ids}
        ),
        200,
    )
    ok(await training.client.post(f"/cohorts/{cohort}/selection"), 200)
    [waiting] = await ranking(training, cohort, "waitlisted")
    assert waiting["person_id"] == people[-1].person_id  # the highest income waits

    erased = people[0]
    ok(await registry.client.post(f"/people/{erased.person_id}/erasure"), 200)

    async def status() -> str:
        app = ok(await training.client.get(f"/cohorts/{cohort}/applications"), 200)
        return next(str(a["status"]) for a in app if a["person_id"] == erased.person_id)

    await eventually(status, lambda s: s == "withdrawn", what="erasure reached training")
    seated = {a["person_id"] for a in await ranking(training, cohort, "enrolled")}
    assert people[-1].person_id in seated and len(seated) == SEATS  # the seat was refilled
    again = await training.client.post(
        f"/cohorts/{cohort}/applications", json={"person_id": erased.person_id}
    )
    assert again.status_code == 409  # their application exists, as a withdrawn tombstone
    later = {**COHORT, "code": f"{code}-2", "course_code": f"{code}-course"}
    ok(await training.client.post("/cohorts", json=later), 201)
    gone = await training.client.post(
        f"/cohorts/{code}-2/applications", json={"person_id": erased.person_id}
    )
    assert gone.status_code == 410, gone.text
    assert (
        await training.client.post("/cohorts/nope/applications", json={"person_id": ids[1]})
    ).status_code == 404


async def test_merge_moves_applications_to_the_survivor(
    registry: RunningRegistry, training: RunningTraining
) -> None:
    code = "cdd-merge"
    await set_up(training, code)
    later = {**COHORT, "code": f"{code}-2", "course_code": f"{code}-course"}
    ok(await training.client.post("/cohorts", json=later), 201)
    ids = []
    for _ in range(2):
        person = {
            "national_id": national_id(),
            "first_name_th": "สมชาย",
            "last_name_th": "ใจดี",
            "address": {"province_code": "34"},
        }
        ids.append(ok(await registry.client.post("/people", json=person), 201)["person_id"])
    retired, survivor = ids

    async def apply(cohort: str, person_id: str) -> httpx.Response:
        return await training.client.post(
            f"/cohorts/{cohort}/applications", json={"person_id": person_id}
        )

    for cohort, person_id in (
        (f"{code}-1", retired),
        (f"{code}-1", survivor),
        (f"{code}-2", retired),
    ):
        await eventually(
            lambda c=cohort, p=person_id: apply(c, p),  # type: ignore[misc]
            lambda r: r.status_code != 404,
            what="replicated",
        )
    ok(await training.client.post(f"/cohorts/{code}-1/selection"), 200)

    ok(
        await registry.client.post("/merges", json={"survivor_id": survivor, "merged_id": retired}),
        200,
    )

    async def statuses() -> dict[tuple[str, str], str]:
        found = {}
        for cohort in (f"{code}-1", f"{code}-2"):
            for a in ok(await training.client.get(f"/cohorts/{cohort}/applications"), 200):
                found[cohort, a["person_id"]] = a["status"]
        return found

    await eventually(
        statuses, lambda s: (f"{code}-2", survivor) in s, what="merge reached training"
    )
    # Read again: the two cohorts are read one after the other, and the merge (one
    # transaction) could commit between them, pairing a before with an after.
    merged = await statuses()
    assert merged == {
        (f"{code}-1", survivor): "enrolled",  # the survivor keeps its own seat
        (f"{code}-1", retired): "withdrawn",  # the duplicate's seat is given back
        (f"{code}-2", survivor): "applied",  # the duplicate's only application moves over
    }
    gone = await apply(f"{code}-2", retired)
    assert gone.status_code == 410 and gone.json()["survivor_id"] == survivor


async def test_cohort_trainers_come_from_the_registry_and_keys_are_required(
    registry: RunningRegistry, training: RunningTraining
) -> None:
    code = "cdd-trainers"
    await set_up(training, code)
    sage = ok(
        await registry.client.post(
            "/trainers",
            json={
                "display_name": "Sage of Ban Nong Hai",
                "occupations": ["community-enterprise-product-processing"],
                "role": "lead",
            },
        ),
        201,
    )
    mechanic = ok(
        await registry.client.post(
            "/trainers", json={"display_name": "Mechanic", "occupations": ["mechanic"]}
        ),
        201,
    )

    async def trainers_known() -> dict[str, int]:
        return ok(await training.client.get("/replica"), 200)  # type: ignore[no-any-return]

    await eventually(trainers_known, lambda r: r["trainers"] >= 2, what="trainers replicated")
    base = {**COHORT, "course_code": f"{code}-course"}
    wrong = await training.client.post(
        "/cohorts", json={**base, "code": f"{code}-x", "trainer_ids": [mechanic["trainer_id"]]}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "trainer_ids.0"
    unknown = await training.client.post(
        "/cohorts", json={**base, "code": f"{code}-y", "trainer_ids": ["no-such-trainer"]}
    )
    assert unknown.status_code == 404
    taught = ok(
        await training.client.post(
            "/cohorts", json={**base, "code": f"{code}-2", "trainer_ids": [sage["trainer_id"]]}
        ),
        201,
    )
    assert taught["trainer_ids"] == [sage["trainer_id"]]
    clash = await training.client.post(
        "/cohorts", json={**base, "code": f"{code}-2", "capacity": 5}
    )
    assert clash.status_code == 409 and "capacity" in clash.json()["detail"]

    listed = ok(await training.client.get("/cohorts", params={"programme_code": code}), 200)
    assert [c["code"] for c in listed] == [f"{code}-1", f"{code}-2"]
    assert listed[0]["counts"]["applied"] == 0
    assert code in [p["code"] for p in ok(await training.client.get("/programmes"), 200)]

    # Set-up mistakes get a 422 naming the field.
    lender_owned = await training.client.post(
        "/programmes",
        json={
            "code": "by-a-bank",
            "name": "x",
            "owner_code": "gsb",
            "year": 2026,
            "occupations": ["mechanic"],
            "target_total": 10,
        },
    )
    assert lender_owned.status_code == 422
    assert lender_owned.json()["errors"][0]["field"] == "owner_code"
    course = {
        "code": f"{code}-c2",
        "programme_code": code,
        "occupation": "mechanic",
        "title": "x",
        "days": 5,
        "hours": 30,
        "day_plan": [{"from_day": 1, "to_day": 5, "activity": "knowledge-transfer"}],
        "completion": {"min_attendance_days": 4},
    }
    not_offered = await training.client.post("/courses", json=course)
    assert not_offered.status_code == 422
    assert not_offered.json()["errors"][0]["field"] == "occupation"
    gap = await training.client.post(
        "/courses",
        json={
            **course,
            "occupation": "community-enterprise-product-processing",
            "day_plan": [
                {"from_day": 1, "to_day": 3, "activity": "knowledge-transfer"},
                {"from_day": 5, "to_day": 5, "activity": "home-practice"},
            ],
        },
    )
    assert gap.status_code == 422 and gap.json()["errors"][0]["field"] == "day_plan.1"

    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=training.service.app), base_url="http://training"
    )
    async with anonymous:
        assert (await anonymous.get(f"/cohorts/{code}-2")).status_code == 401
        created = ok(
            await training.client.post("/api-keys", json={"name": "viewer", "role": "read"}), 201
        )
        reader = {"Authorization": f"Bearer {created['token']}"}
        assert (await anonymous.get(f"/cohorts/{code}-2", headers=reader)).status_code == 200
        write = await anonymous.post(f"/cohorts/{code}-2/selection", headers=reader)
        assert write.status_code == 403


async def test_training_is_not_completed_before_it_happens(
    registry: RunningRegistry, training: RunningTraining
) -> None:
    """No attendance for a day still to come; no closing a cohort before its last day or
    with nobody seated (issue 12: a cohort 30 days ahead closed at once)."""
    code = "cdd-ahead"
    ok(
        await registry.client.post(
            "/places/villages", json={"code": VILLAGES[0], "name_en": "v", "province_code": "34"}
        ),
        201,
        200,
    )
    learner = Applicant(national_id(), VILLAGES[0], 3_000)
    await register_people(registry, [learner])
    await replica_caught_up(training, 1)
    await set_up(training, code)
    course = f"{code}-course"
    ahead = date.today() + timedelta(days=30)
    for cohort, starts_on in ((f"{code}-ahead", ahead), (f"{code}-empty", START)):
        body = {**COHORT, "code": cohort, "course_code": course, "starts_on": str(starts_on)}
        ok(await training.client.post("/cohorts", json=body), 201)
    ok(
        await training.client.post(
            f"/cohorts/{code}-ahead/applications", json={"person_id": learner.person_id}
        ),
        201,
    )
    for cohort in (f"{code}-ahead", f"{code}-empty"):
        ok(await training.client.post(f"/cohorts/{cohort}/selection"), 200)

    future = await training.client.post(
        f"/cohorts/{code}-ahead/attendance",
        json={
            "records": [
                {"person_id": learner.person_id, "date": str(ahead), "present": True},
                {
                    "person_id": learner.person_id,
                    "date": str(ahead + timedelta(days=1)),
                    "present": True,
                },
            ]
        },
    )
    assert future.status_code == 422, future.text
    assert error_fields(future.json()) == ["records.0.date"] and "future" in future.text

    early = await training.client.post(f"/cohorts/{code}-ahead/closure")
    assert early.status_code == 409 and "can close on its last day" in early.text
    empty = await training.client.post(f"/cohorts/{code}-empty/closure")
    assert empty.status_code == 409 and "nobody seated" in empty.text
    # Both refusals changed nothing: the cohorts are still open for records.
    for cohort in (f"{code}-ahead", f"{code}-empty"):
        assert ok(await training.client.get(f"/cohorts/{cohort}"), 200)["status"] == "selected"
    counts = ok(await training.client.get("/counts"), 200)
    assert counts.get("completed", 0) == 0 and counts.get("not_completed", 0) == 0, counts
