"""People, consents, likely duplicates, merges, subject access and erasure over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from services.registry.handlers import consent, people
from services.registry.schemas import (
    ConsentIn,
    ConsentOut,
    MergeIn,
    PersonCreated,
    PersonIn,
    PersonOut,
    PersonPatch,
)
from services.registry.tables import DuplicateFlag
from shared.auth import AdminKey, Db, ReadKey, WriteKey, read_out
from shared.http import ERASED

router = APIRouter(tags=["people"], responses=ERASED)


@router.post("/people", status_code=201, response_model=PersonCreated)
async def register(body: PersonIn, who: WriteKey, db: Db) -> PersonCreated:
    async with db.transaction() as session:
        done = await people.register_person(session, who.name, body)
    return PersonCreated(
        person_id=done.person.person_id, possible_duplicates=done.possible_duplicates
    )


@router.get("/people/{person_id}", response_model=PersonOut)
async def read(person_id: str, _: ReadKey, db: Db) -> PersonOut:
    async with db.transaction() as session:
        person, consents = await people.get_person(session, person_id)
    return PersonOut.of(person, consents)


@router.patch("/people/{person_id}", response_model=PersonOut)
async def correct(person_id: str, body: PersonPatch, who: WriteKey, db: Db) -> PersonOut:
    async with db.transaction() as session:
        await people.update_person(session, who.name, person_id, body)
        person, consents = await people.get_person(session, person_id)
    return PersonOut.of(person, consents)


@router.post("/people/{person_id}/consents", status_code=201, response_model=ConsentOut)
async def grant(person_id: str, body: ConsentIn, who: WriteKey, db: Db) -> ConsentOut:
    async with db.transaction() as session:
        return ConsentOut.of(await consent.grant_for(session, who.name, person_id, body))


@router.post("/people/{person_id}/consents/{consent_id}/withdrawal", response_model=ConsentOut)
async def withdraw(person_id: str, consent_id: str, who: WriteKey, db: Db) -> ConsentOut:
    async with db.transaction() as session:
        return ConsentOut.of(await consent.withdraw(session, who.name, person_id, consent_id))


@router.get("/people/{person_id}/export")
async def export(person_id: str, who: AdminKey, db: Db) -> dict[str, Any]:
    """Subject access: everything the registry holds about the person."""
    async with db.transaction() as session:
        return await people.subject_access(session, who.name, person_id)


@router.post("/people/{person_id}/erasure")
async def erase(person_id: str, who: AdminKey, db: Db) -> dict[str, Any]:
    """PDPA erasure: personal data removed here, PersonErased tells every other service."""
    async with db.transaction() as session:
        person = await people.erase(session, who.name, person_id)
    return {"person_id": person.person_id, "status": person.status, "erased_at": person.erased_at}


@router.get("/duplicates", response_model=list[DuplicateFlag])
async def duplicates(
    *,
    status: str = Query("open", pattern="^(open|dismissed|merged)$"),
    _: ReadKey,
    db: Db,
) -> list[DuplicateFlag]:
    async with db.transaction() as session:
        return await people.duplicate_flags(session, status)


@router.post("/duplicates/{flag_id}/dismissal", response_model=DuplicateFlag)
async def dismiss(flag_id: str, who: WriteKey, db: Db) -> DuplicateFlag:
    async with db.transaction() as session:
        return await people.dismiss_flag(session, who.name, flag_id)


@router.post("/merges", response_model=PersonOut)
async def merge(body: MergeIn, who: AdminKey, db: Db) -> PersonOut:
    async with db.transaction() as session:
        await people.merge(session, who.name, body.survivor_id, body.merged_id)
        person, consents = await people.get_person(session, body.survivor_id)
    return PersonOut.of(person, consents)


read_out(router, "/counts", people.counts)
