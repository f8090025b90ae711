"""People, consents, likely duplicates, merges, subject access and erasure over HTTP."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.registry.api.deps import Deps
from services.registry.handlers import consent, people
from services.registry.schemas import ConsentIn, PersonIn, PersonPatch
from services.registry.tables import Consent, DuplicateFlag, Person
from shared.auth import Operator
from shared.http import ERASED
from shared.types import Input


class PersonCreated(BaseModel):
    person_id: str
    possible_duplicates: list[str] = Field(
        description="likely duplicates flagged for review (same name, birth date, province)"
    )


class ConsentOut(BaseModel):
    consent_id: str = Field(description="also the receipt id to give the person")
    person_id: str
    purpose: str
    lender_code: str | None
    data_categories: list[str]
    granted_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None

    @classmethod
    def of(cls, row: Consent) -> ConsentOut:
        data = row.model_dump()
        data["data_categories"] = [c for c in row.data_categories.split(",") if c]
        return cls.model_validate(data)


class AddressOut(BaseModel):
    house_no: str | None
    street: str | None
    village_code: str | None
    subdistrict: str | None
    district: str | None
    province_code: str | None


class PersonOut(BaseModel):
    person_id: str
    status: str
    national_id: str | None
    first_name_th: str | None
    last_name_th: str | None
    first_name_en: str | None
    last_name_en: str | None
    birth_date: date | None
    sex: str | None
    phone: str | None
    address: AddressOut
    household_id: str | None
    merged_into: str | None
    registered_at: datetime
    updated_at: datetime
    consents: list[ConsentOut]

    @classmethod
    def of(cls, person: Person, consents: list[Consent]) -> PersonOut:
        data = person.model_dump()
        data["address"] = AddressOut.model_validate(data)
        data["consents"] = [ConsentOut.of(c) for c in consents]
        return cls.model_validate(data)


class MergeIn(Input):
    survivor_id: str = Field(description="the record that stays")
    merged_id: str = Field(description="the record retired into the survivor")


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["people"], responses=ERASED)
    db = deps.db

    @api.post("/people", status_code=201, response_model=PersonCreated)
    async def register(body: PersonIn, who: Operator = Depends(deps.writer)) -> PersonCreated:
        async with db.transaction() as session:
            done = await people.register_person(session, who.name, body)
        return PersonCreated(
            person_id=done.person.person_id, possible_duplicates=done.possible_duplicates
        )

    @api.get("/people/{person_id}", response_model=PersonOut)
    async def read(person_id: str, _: Operator = Depends(deps.reader)) -> PersonOut:
        async with db.transaction() as session:
            person, consents = await people.get_person(session, person_id)
        return PersonOut.of(person, consents)

    @api.patch("/people/{person_id}", response_model=PersonOut)
    async def correct(
        person_id: str, body: PersonPatch, who: Operator = Depends(deps.writer)
    ) -> PersonOut:
        async with db.transaction() as session:
            await people.update_person(session, who.name, person_id, body)
            person, consents = await people.get_person(session, person_id)
        return PersonOut.of(person, consents)

    @api.post("/people/{person_id}/consents", status_code=201, response_model=ConsentOut)
    async def grant(
        person_id: str, body: ConsentIn, who: Operator = Depends(deps.writer)
    ) -> ConsentOut:
        async with db.transaction() as session:
            return ConsentOut.of(await consent.grant_for(session, who.name, person_id, body))

    @api.post("/people/{person_id}/consents/{consent_id}/withdrawal", response_model=ConsentOut)
    async def withdraw(
        person_id: str, consent_id: str, who: Operator = Depends(deps.writer)
    ) -> ConsentOut:
        async with db.transaction() as session:
            return ConsentOut.of(await consent.withdraw(session, who.name, person_id, consent_id))

    @api.get("/people/{person_id}/export")
    async def export(person_id: str, who: Operator = Depends(deps.admin)) -> dict[str, Any]:
        """Subject access: everything the registry holds about the person."""
        async with db.transaction() as session:
            return await people.subject_access(session, who.name, person_id)

    @api.post("/people/{person_id}/erasure")
    async def erase(person_id: str, who: Operator = Depends(deps.admin)) -> dict[str, Any]:
        """PDPA erasure: personal data removed here, PersonErased tells every other service."""
        async with db.transaction() as session:
            person = await people.erase(session, who.name, person_id)
        return {
            "person_id": person.person_id,
            "status": person.status,
            "erased_at": person.erased_at,
        }

    @api.get("/duplicates", response_model=list[DuplicateFlag])
    async def duplicates(
        status: str = Query("open", pattern="^(open|dismissed|merged)$"),
        _: Operator = Depends(deps.reader),
    ) -> list[DuplicateFlag]:
        async with db.transaction() as session:
            return await people.duplicate_flags(session, status)

    @api.post("/duplicates/{flag_id}/dismissal", response_model=DuplicateFlag)
    async def dismiss(flag_id: str, who: Operator = Depends(deps.writer)) -> DuplicateFlag:
        async with db.transaction() as session:
            return await people.dismiss_flag(session, who.name, flag_id)

    @api.post("/merges", response_model=PersonOut)
    async def merge(body: MergeIn, who: Operator = Depends(deps.admin)) -> PersonOut:
        async with db.transaction() as session:
            await people.merge(session, who.name, body.survivor_id, body.merged_id)
            person, consents = await people.get_person(session, body.survivor_id)
        return PersonOut.of(person, consents)

    @api.get("/counts")
    async def counts(_: Operator = Depends(deps.reader)) -> dict[str, int]:
        async with db.transaction() as session:
            return await people.counts(session)

    return api
