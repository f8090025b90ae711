"""Registry CSV import: the real app on a real database and broker, driven over HTTP.

The 100,000-row test is the acceptance check of the issue: 2% invalid national IDs and 1%
duplicate rows are reported line by line and nothing else is lost; importing the same file
again adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, func, select
from stdnum.th import pin

from deploy.scenarios.people_csv import Expectation, write_csv
from services.registry.__main__ import build as build_registry
from services.registry.handlers import imports
from services.registry.settings import RegistrySettings
from services.registry.tables import (
    Consent,
    DuplicateFlag,
    Household,
    ImportJob,
    ImportRejection,
    IncomeRecord,
    Outbox,
    Person,
)
from shared.db import Database
from shared.runtime import Service
from tests.support import RunningRegistry, error_fields, eventually, ok, returning
from tests.support.registry import HEADER, finished, person, upload

ROWS = 100_000
PERSON_REGISTERED = "skillbridge.registry.PersonRegistered.v1"


async def import_file(
    client: httpx.AsyncClient, path: Path, timeout: float = 120
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    job = await upload(client, path)
    done = await finished(client, job["import_id"], timeout)
    return done, time.monotonic() - started


async def report(client: httpx.AsyncClient, import_id: str) -> list[dict[str, str]]:
    response = await client.get(f"/imports/{import_id}/rejections", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def by_line(rows: list[dict[str, str]]) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {}
    for row in rows:
        lines.setdefault(int(row["line"]), []).append(row["field"])
    return lines


def assert_report_is_exactly(rows: list[dict[str, str]], expected: Expectation) -> None:
    assert by_line(rows) == {line: [field] for line, field in expected.rejected.items()}
    for row in rows:
        line = int(row["line"])
        if line in expected.duplicate_of:
            assert row["reason"] == f"duplicate of line {expected.duplicate_of[line]} in this file"
        else:
            assert row["reason"].startswith("not a valid Thai national ID"), row
        assert row["existing_person_id"] == ""


async def counts(db: Database) -> dict[str, int]:
    async with db.transaction() as session:

        async def count(model: Any, *where: Any) -> int:
            query = select(func.count()).select_from(model)
            for condition in where:
                query = query.where(condition)
            return int((await session.exec(query)).one())

        return {
            "people": await count(Person),
            "person_registered": await count(Outbox, col(Outbox.ce_type) == PERSON_REGISTERED),
            "households": await count(Household),
            "income_records": await count(IncomeRecord),
            "flagged_people": int(
                (
                    await session.exec(select(func.count(func.distinct(DuplicateFlag.person_id))))
                ).one()
            ),
        }


async def test_hundred_thousand_rows_exact_report_then_reimport_adds_nothing(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "village-survey.csv"
    expected = write_csv(path, ROWS, invalid=0.02, duplicates=0.01, bom=True)
    assert (len(expected.invalid), len(expected.duplicate_of)) == (2_000, 1_000)
    client = registry.client

    first, first_seconds = await import_file(client, path, timeout=900)
    assert first["rows_total"] == first["rows_done"] == ROWS
    assert first["rejected"] == len(expected.rejected) == 3_000
    assert first["created"] == expected.created == ROWS - 3_000
    assert first["unchanged"] == 0
    first_report = await report(client, first["import_id"])
    assert_report_is_exactly(first_report, expected)
    stored = await counts(registry.service.db)
    assert stored == {
        "people": expected.created,
        "person_registered": expected.created,
        "households": len(expected.households),
        "income_records": len(expected.incomes),
        "flagged_people": first["flagged"],
    }

    # The JSON pages, followed to the end, say the same as the CSV report.
    paged: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        response = await client.get(
            f"/imports/{first['import_id']}/rejections",
            params={"after_line": after, "limit": 700},
        )
        page = response.json()
        paged += page["rejections"]
        after = page["next_after_line"]
    assert [(r["line"], r["field"]) for r in paged] == [
        (int(r["line"]), r["field"]) for r in first_report
    ]

    again, again_seconds = await import_file(client, path, timeout=900)
    assert (again["created"], again["unchanged"], again["rejected"]) == (
        0,
        first["created"],
        first["rejected"],
    )
    assert again["flagged"] == 0
    assert_report_is_exactly(await report(client, again["import_id"]), expected)
    assert await counts(registry.service.db) == stored
    print(  # the timing for the note (the figures themselves come from deploy/bench/imports.py)
        f"\n100k import: first {first_seconds:.1f} s, again {again_seconds:.1f} s "
        f"({registry.service.db.engine.dialect.name})"
    )


def small_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def nid(serial: int) -> str:
    body = f"3{secrets.randbelow(10**4):04d}{serial:07d}"
    return body + pin.calc_check_digit(body)


async def test_rules_per_row_and_idempotent_reimport(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    client = registry.client
    ids = [nid(i) for i in range(1, 11)]
    # Registered beforehand over HTTP: one the file repeats as it is, one it contradicts.
    for number in ids[:2]:
        body = {
            "national_id": number,
            "first_name_th": "มาลี",
            "last_name_th": "ศรีสุข",
            "birth_date": "1987-05-12",
            "phone": "0811111111",  # the file leaves it empty: no contradiction
            "address": {"province_code": "34"},
        }
        assert (await client.post("/people", json=body)).status_code == 201
    code = f"hh-{secrets.token_hex(3)}"
    path = small_csv(
        tmp_path / "rules.csv",
        [
            f"{ids[0]},มาลี,ศรีสุข,12/05/2530,34,,,,",  # 2: the same person: unchanged
            f"{ids[1]},มาลี,ศรีสุข,1987-05-13,34,,,,",  # 3: other birth date: rejected
            f"{ids[2]},สมชาย,ใจดี,1980-01-01,34,,{code},3500,0812345678",  # 4: household
            f"{ids[3]},สมศรี,ใจดี,1982-01-01,34,,{code},3500,",  # 5: joins it
            f"{ids[4]},สมศรี,ใจดี,1982-01-01,34,,{code},9000,",  # 6: other income: rejected
            f"{ids[5]},มาลี,ศรีสุข,1987-05-12,34,,,,",  # 7: likely duplicate: flagged
            f"{ids[6]},วันดี,มีสุข,1990-01-01,99,,,,",  # 8: unknown province
            f"{ids[7]},วันดี,มีสุข,1990-01-01,34,no-such-village,,,",  # 9: unknown village
            f"{ids[8]},,มีสุข,31/02/2530,34,,,,12",  # 10: three bad fields
            f"{ids[9]},too,few",  # 11: cell count
        ],
    )
    first, _ = await import_file(client, path)
    assert (first["created"], first["unchanged"], first["rejected"], first["flagged"]) == (
        3,
        1,
        6,
        1,
    )
    rejected = await report(client, first["import_id"])
    assert [(int(r["line"]), r["field"]) for r in rejected] == [
        (3, "national_id"),
        (6, "monthly_income"),
        (8, "address.province_code"),
        (9, "address.village_code"),
        (10, "first_name_th"),
        (10, "birth_date"),
        (10, "phone"),
        (11, "row"),
    ]
    clash = rejected[0]
    assert clash["reason"] == (
        "already registered with other data (birth_date); an import does not change people"
    )
    assert clash["existing_person_id"]
    blob = json.dumps(rejected, ensure_ascii=False)
    assert "31/02/2530" not in blob and "1987-05-13" not in blob  # no personal data kept

    async with registry.service.db.transaction() as session:
        household = (
            await session.exec(select(Household).where(Household.household_code == code))
        ).one()
        members = (
            await session.exec(
                select(Person.national_id).where(Person.household_id == household.household_id)
            )
        ).all()
    assert sorted(m or "" for m in members) == sorted(ids[2:4])
    assert (household.monthly_income, household.income_band) == (3500, "B02")
    before = await counts(registry.service.db)

    again, _ = await import_file(client, path)
    assert (again["created"], again["unchanged"], again["rejected"], again["flagged"]) == (
        0,
        4,
        6,
        0,
    )
    assert await report(client, again["import_id"]) == rejected
    assert await counts(registry.service.db) == before


async def test_bad_header_empty_file_and_not_utf8_are_refused_before_storing(
    registry: RunningRegistry,
) -> None:
    async def post(body: bytes) -> httpx.Response:
        return await registry.client.post("/imports", params={"file_name": "x.csv"}, content=body)

    bad = await post(b"national_id,first_name_th,last_name_th,province_code,nickname\n1,a,b,10,c\n")
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"] == [
        {"field": "header", "message": bad.json()["detail"], "type": "validation-error"}
    ]
    assert bad.json()["type"] == "https://skillbridge.example/problems/validation-error"
    assert "unknown column(s) nickname" in bad.json()["detail"]
    assert bad.json()["unknown"] == ["nickname"]
    missing = await post(b"national_id,first_name_th\n")
    assert missing.status_code == 422 and missing.json()["missing"] == [
        "last_name_th",
        "province_code",
    ]
    empty = await post(b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "header"
    latin = await post(HEADER.encode() + "1,Zoë,x,,10,,,,\n".encode("latin-1"))
    assert latin.status_code == 422 and "not UTF-8" in latin.json()["detail"]
    async with registry.service.db.transaction() as session:
        assert (await session.exec(select(func.count()).select_from(ImportJob))).one() == 0


async def test_upload_and_reading_need_a_key(registry: RunningRegistry) -> None:
    async with registry.anonymous() as anonymous:
        response = await anonymous.post(
            "/imports", params={"file_name": "x.csv"}, content=HEADER.encode()
        )
        assert response.status_code == 401
        assert (await anonymous.get("/imports")).status_code == 401
    assert (await registry.client.get("/imports/nope")).status_code == 404


# --- consents and the person of each row --------------------------------------------------

CONSENT_GRANTED = "skillbridge.registry.ConsentGranted.v1"
CONSENT_HEADER = "national_id,first_name_th,last_name_th,province_code,household_code,consents\n"


async def all_row_people(client: httpx.AsyncClient, import_id: str, limit: int) -> list[Any]:
    people: list[Any] = []
    after: int | None = 0
    while after is not None:
        page = ok(
            await client.get(
                f"/imports/{import_id}/people", params={"after_line": after, "limit": limit}
            ),
            200,
        )
        assert page["status"] == "done"
        people += page["people"]
        after = page["next_after_line"]
    return people


async def test_consents_column_grants_as_post_people_and_rows_map_to_person_ids(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    client = registry.client
    ids = [nid(i) for i in range(1, 7)]
    # Registered beforehand without consent: the file cannot grant one to them.
    ok(await client.post("/people", json=person(national_id=ids[0])), 201)
    code = f"hh-{secrets.token_hex(3)}"
    path = tmp_path / "consents.csv"
    path.write_text(
        CONSENT_HEADER
        + f"{ids[1]},มาลี,ศรีสุข,34,{code},loan-referral\n"  # 2: consents
        + f"{ids[2]},สมชาย,ใจดี,34,{code},\n"  # 3: no consent
        + f"{ids[3]},สมศรี,ใจดี,34,, loan-referral ;\n"  # 4: spaces, a trailing separator
        + f"{ids[4]},วันดี,มีสุข,34,,marketing\n"  # 5: unknown purpose
        + f"{ids[0]},มาลี,ศรีสุข,34,,loan-referral\n"  # 6: registered, without consent
        + f"{ids[5]},วันดี,มีสุข,34,,loan-referral;loan-referral\n",  # 7: repeated
        encoding="utf-8",
    )
    first, _ = await import_file(client, path)
    assert (first["created"], first["unchanged"], first["rejected"]) == (3, 0, 3)
    rejected = await report(client, first["import_id"])
    assert [(int(r["line"]), r["field"]) for r in rejected] == [
        (5, "consents.0.purpose"),
        (6, "consents"),
        (7, "consents"),
    ]
    assert rejected[1]["existing_person_id"] and "does not grant consents" in rejected[1]["reason"]

    people = await all_row_people(client, first["import_id"], limit=2)  # pages of two
    assert [(p["line"], p["outcome"]) for p in people] == [
        (2, "created"),
        (3, "created"),
        (4, "created"),
    ]
    assert not any(ids[1] in json.dumps(p) for p in people)  # no national IDs handed back
    by_line = {p["line"]: p["person_id"] for p in people}
    for line, consented in ((2, True), (3, False), (4, True)):
        got = ok(await client.get(f"/people/{by_line[line]}"), 200)
        assert got["national_id"] == ids[line - 1]
        assert [c["purpose"] for c in got["consents"]] == (["loan-referral"] if consented else [])
    async with registry.service.db.transaction() as session:
        granted = (
            await session.exec(select(Outbox).where(col(Outbox.ce_type) == CONSENT_GRANTED))
        ).all()
        consents = (await session.exec(select(Consent))).all()
    assert len(granted) == len(consents) == 2
    assert {json.loads(o.value)["person_id"] for o in granted} == {by_line[2], by_line[4]}

    # Again: the consented people are unchanged (their consent is live); nothing is added.
    again, _ = await import_file(client, path)
    assert (again["created"], again["unchanged"], again["rejected"]) == (0, 3, 3)
    people_again = await all_row_people(client, again["import_id"], limit=1000)
    assert [(p["line"], p["person_id"], p["outcome"]) for p in people_again] == [
        (line, by_line[line], "unchanged") for line in (2, 3, 4)
    ]
    async with registry.service.db.transaction() as session:
        assert len((await session.exec(select(Consent))).all()) == 2


async def test_row_people_needs_the_write_role_and_a_known_import(
    registry: RunningRegistry,
) -> None:
    client = registry.client
    missing = await client.get("/imports/nope/people")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert error_fields(missing.json()) == ["import_id"]
    bad = await client.get("/imports/nope/people", params={"limit": 0})
    assert bad.status_code == 422 and error_fields(bad.json()) == ["limit"]
    reader = ok(await client.post("/api-keys", json={"name": "viewer", "role": "read"}), 201)
    async with registry.anonymous() as anonymous:
        assert (await anonymous.get("/imports/nope/people")).status_code == 401
        read_only = {"Authorization": f"Bearer {reader['token']}"}
        response = await anonymous.get("/imports/nope/people", headers=read_only)
        assert response.status_code == 403


# --- crash and resume --------------------------------------------------------------------


async def job_row(db: Database, import_id: str) -> ImportJob:
    async with db.transaction() as session:
        job = await session.get(ImportJob, import_id)
    assert job is not None
    return job


async def start(settings: RegistrySettings) -> tuple[Service, httpx.AsyncClient]:
    service = build_registry(settings)
    await service.start()
    assert settings.admin_key is not None
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app),
        base_url="http://registry",
        headers={"Authorization": f"Bearer {settings.admin_key.get_secret_value()}"},
        timeout=60,
    )
    return service, client


async def test_import_stopped_mid_job_resumes_exactly_on_a_new_service(
    bootstrap: str, database_urls: dict[str, str], tmp_path: Path
) -> None:
    rows = 8_000
    path = tmp_path / "people.csv"
    expected = write_csv(path, rows, seed=77)
    settings = RegistrySettings(
        database_url=database_urls["registry"],
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key="sbk_" + secrets.token_urlsafe(24),
        import_batch_rows=200,  # many commits, so the stop lands mid-job
    )
    service, client = await start(settings)
    try:
        job = await upload(client, path)
        await eventually(
            lambda: job_row(service.db, job["import_id"]),
            lambda j: j.rows_done > 0,
            timeout=60,
            what="the first batches committed",
        )
    finally:
        await client.aclose()
        await service.stop()  # cancels the worker, most likely inside a batch
    probe = Database(settings.database_url)
    try:
        cut = await job_row(probe, job["import_id"])
    finally:
        await probe.dispose()
    assert cut.status == "running" and 0 < cut.rows_done < rows, cut
    assert cut.rows_done % 200 == 0  # only whole batches were committed

    service, client = await start(settings)
    try:
        done = await finished(client, job["import_id"], timeout=300)
        assert (done["created"], done["unchanged"], done["rejected"]) == (
            expected.created,
            0,
            len(expected.rejected),
        )
        assert_report_is_exactly(await report(client, job["import_id"]), expected)
        stored = await counts(service.db)
        assert stored["people"] == stored["person_registered"] == expected.created
        assert stored["households"] == len(expected.households)
        assert stored["income_records"] == len(expected.incomes)
        async with service.db.transaction() as session:
            entries = (
                await session.exec(
                    select(func.count())
                    .select_from(ImportRejection)
                    .where(ImportRejection.import_id == job["import_id"])
                )
            ).one()
        assert entries == len(expected.rejected)  # the redone batch did not report twice
    finally:
        await client.aclose()
        await service.stop()


async def test_a_batch_failing_after_its_inserts_is_redone_whole(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: Any
) -> None:
    path = tmp_path / "people.csv"
    expected = write_csv(path, 3_000, seed=5)  # three batches of 1,000
    real_write = imports.Batch.write
    failed: list[int] = []

    async def write_then_crash(batch: imports.Batch, session: Any) -> None:
        await real_write(batch, session)  # everything inserted, then the process "dies"
        if not failed and batch.counts.rows and any(line > 1_001 for line, _ in batch.accepted):
            failed.append(batch.counts.rows)
            raise RuntimeError("crash inside the second batch")

    monkeypatch.setattr(imports.Batch, "write", write_then_crash)
    job = await upload(registry.client, path)
    await eventually(lambda: returning(failed), bool, timeout=60, what="the injected crash")
    imports.wake_event(registry.service.db).set()  # retry now rather than at the next poll
    done = await finished(registry.client, job["import_id"], timeout=120)
    assert (done["created"], done["rejected"]) == (expected.created, len(expected.rejected))
    assert_report_is_exactly(await report(registry.client, job["import_id"]), expected)
    stored = await counts(registry.service.db)
    assert stored["people"] == stored["person_registered"] == expected.created


async def test_two_workers_on_one_job_never_apply_a_batch_twice(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    expected = write_csv(path, 4_000, seed=9)
    job = await upload(registry.client, path)
    # A second worker, as another replica would run it, next to the service's own.
    other = imports.ImportWorker(registry.service.db, RegistrySettings(import_batch_rows=500))
    await other.process(job["import_id"])
    done = await finished(registry.client, job["import_id"], timeout=120)
    assert (done["created"], done["rejected"]) == (expected.created, len(expected.rejected))
    assert_report_is_exactly(await report(registry.client, job["import_id"]), expected)
    stored = await counts(registry.service.db)
    assert stored["people"] == stored["person_registered"] == expected.created
