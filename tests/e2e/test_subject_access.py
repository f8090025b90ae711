"""PDPA subject access across the five services as processes, on the real broker (and
PostgreSQL when reachable): `skillbridge people export ID` gathers one person's application,
certificate and referral, and names the lender and the data categories it received; after
erasure every part says erased; a service that cannot be reached is named, not a crash."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from deploy.cli import app
from deploy.clients.certification import (
    Candidate,
    CertificationClient,
    standard_code,
    unit_results,
)
from deploy.clients.training import TrainingClient, attendance
from deploy.stack.launcher import SERVICES, Stack, free_port
from tests.support import eventually

OCCUPATION, LEVEL = "food-and-beverage-production", 2  # gsb-occupation-loan and smed
DATES = [datetime.date(2024, 6, 3) + datetime.timedelta(days=i) for i in range(5)]
COHORT, SESSION = "sar-cohort", "sar-session"


async def _journey(stack: Stack) -> str:
    """One person, consenting to share contact data with gsb only, trained, certified."""
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(timeout=30, headers=auth) as http:
        registered = await http.post(
            f"{stack.url('registry')}/people",
            json={
                "national_id": "1101700230708",
                "first_name_th": "มานี",
                "last_name_th": "ใจดี",
                "birth_date": "1990-03-15",
                "phone": "0812223333",
                "address": {"province_code": "10"},
                "consents": [
                    {
                        "purpose": "loan-referral",
                        "lender_code": "gsb",
                        "data_categories": ["contact"],
                    }
                ],
            },
        )
        assert registered.status_code == 201, registered.text
        person_id = str(registered.json()["person_id"])
        training = TrainingClient(http, stack.url("training"))
        await training.ensure_programme(
            code="sar",
            name="Subject access",
            owner_code="ieat",
            year=2024,
            occupations=[OCCUPATION],
            target_total=1,
        )
        await training.ensure_course(
            code="sar-course",
            programme_code="sar",
            occupation=OCCUPATION,
            title="Food",
            days=5,
            hours=30,
            day_plan=((1, 5, "knowledge-transfer"),),
            min_attendance_days=4,
        )
        await training.ensure_cohort(
            code=COHORT,
            course_code="sar-course",
            venue={"kind": "learning-centre", "code": "c"},
            dates=DATES,
            capacity=1,
        )
        await training.apply_all(COHORT, [person_id])
        await training.select(COHORT)
        await training.record_attendance(COHORT, attendance(DATES, {person_id: 5}))
        await training.close(COHORT)
        assessor = CertificationClient(http, stack.url("certification"))
        standard = standard_code(OCCUPATION, LEVEL)
        units = await assessor.standard(standard)
        await assessor.ensure_session(code=SESSION, standard_code=standard, held_on=DATES[-1])
        await assessor.register_candidates(SESSION, [Candidate(person_id, "มานี ใจดี")])
        await assessor.record_results(SESSION, {person_id: unit_results(units, True)})
    return person_id


@pytest.fixture(scope="module")
def person_id(stack: Stack) -> str:
    return asyncio.run(_journey(stack))


def export(stack: Stack, person_id: str, **urls: str) -> tuple[int, dict[str, Any]]:
    """`skillbridge people export ID` as an operator runs it on this stack."""
    env = {f"SKILLBRIDGE_{s.upper()}_URL": urls.get(s, stack.url(s)) for s in SERVICES}
    env["SKILLBRIDGE_API_KEY"] = stack.admin_key
    result = CliRunner().invoke(app, ["people", "export", person_id, "--timeout", "5"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def parts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["service"]: p for p in document["parts"]}


def settled(stack: Stack, person_id: str, done: Any, what: str) -> dict[str, dict[str, Any]]:
    """Export until `done(parts)`: the services learn of the person through the broker."""

    async def probe() -> dict[str, dict[str, Any]]:
        return parts(await asyncio.to_thread(lambda: export(stack, person_id)[1]))

    return asyncio.run(eventually(probe, done, timeout=90, what=what))


def _referred(found: dict[str, dict[str, Any]]) -> bool:
    held = found["funding"].get("held", {})
    return any(r["lender_code"] == "gsb" for r in held.get("referrals", [])) and bool(
        held.get("disclosures")
    )


def test_one_persons_export_holds_application_certificate_referral_and_disclosure(
    stack: Stack, person_id: str
) -> None:
    found = settled(stack, person_id, _referred, "the gsb referral shared with gsb")
    assert {s: p["state"] for s, p in found.items()} == {
        "registry": "held",
        "training": "held",
        "certification": "held",
        "funding": "held",
        "dashboard": "none",
    }
    assert found["dashboard"]["holds_personal_data"] is False
    assert found["registry"]["held"]["person"]["national_id"] == "1101700230708"
    (application,) = found["training"]["held"]["applications"]
    assert (application["cohort_code"], application["programme_code"]) == (COHORT, "sar")
    assert application["status"] == "completed"
    assert len(found["training"]["held"]["attendance"]) == len(DATES)
    (certificate,) = found["certification"]["held"]["certificates"]
    assert (certificate["occupation"], certificate["level"]) == (OCCUPATION, LEVEL)
    funding = found["funding"]["held"]
    gsb = [r for r in funding["referrals"] if r["lender_code"] == "gsb"]
    assert [r["certificate_number"] for r in gsb] == [certificate["certificate_number"]]
    # smed's product matches too, but the person consented to gsb only: nothing went to smed.
    assert {d["lender_code"] for d in funding["disclosures"]} == {"gsb"}
    assert all(d["categories"] == ["contact"] for d in funding["disclosures"])
    assert funding["disclosures"][0]["referral_id"] == gsb[0]["referral_id"]


def test_a_service_that_cannot_be_reached_is_named_in_the_document(
    stack: Stack, person_id: str
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    code, document = export(stack, person_id, training=nowhere)
    found = parts(document)
    assert code == 1 and document["complete"] is False
    assert found["training"]["state"] == "unreachable"
    assert found["registry"]["state"] == "held"


def test_after_erasure_every_part_says_erased(stack: Stack, person_id: str) -> None:
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    erased = httpx.post(
        f"{stack.url('registry')}/people/{person_id}/erasure", headers=headers, timeout=30
    )
    assert erased.status_code == 200, erased.text
    holders = ("registry", "training", "certification", "funding")
    found = settled(
        stack,
        person_id,
        lambda f: all(f[s]["state"] == "erased" for s in holders),
        "every service erased the person",
    )
    for service in holders:
        assert set(found[service]["held"]) == {"erased", "erased_at"}, found[service]
    # Each service says when, as PersonErased told it: the registry's own time.
    when = {datetime.datetime.fromisoformat(found[s]["held"]["erased_at"]) for s in holders}
    assert len(when) == 1, when
