"""Registry HTTP routes: parse, call a handler in a unit of work, map errors (shared.http)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field, field_validator

from services.registry import domain, handlers
from shared.db import Database
from shared.errors import DomainError

ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", description="official 2-digit code")]
LenderCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]


class ConsentIn(BaseModel):
    purpose: str = Field(default=domain.LOAN_REFERRAL, examples=[domain.LOAN_REFERRAL])
    lender_code: LenderCode | None = Field(default=None, description="None: any partner lender")
    expires_at: datetime | None = None

    def command(self) -> handlers.GrantConsent:
        return handlers.GrantConsent(self.purpose, self.lender_code, self.expires_at)


class PersonIn(BaseModel):
    national_id: str = Field(examples=["1101700207030"])
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    province_code: ProvinceCode
    birth_date: date | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{9,15}$")
    consents: list[ConsentIn] = Field(default_factory=list)

    @field_validator("national_id")
    @classmethod
    def _valid_national_id(cls, value: str) -> str:
        try:
            return domain.national_id(value)
        except DomainError as error:
            raise ValueError(error.message) from error


class PersonCreated(BaseModel):
    person_id: str


class ConsentOut(BaseModel):
    consent_id: str
    purpose: str
    lender_code: str | None
    granted_at: datetime
    expires_at: datetime | None


def router(db: Database) -> APIRouter:
    api = APIRouter(tags=["registry"])

    @api.post("/people", status_code=201, response_model=PersonCreated)
    async def register(body: PersonIn) -> PersonCreated:
        async with db.transaction() as session:
            person = await handlers.register_person(
                session,
                handlers.RegisterPerson(
                    national_id=body.national_id,
                    first_name=body.first_name,
                    last_name=body.last_name,
                    province_code=body.province_code,
                    birth_date=body.birth_date,
                    phone=body.phone,
                    consents=tuple(c.command() for c in body.consents),
                ),
            )
        return PersonCreated(person_id=person.person_id)

    @api.post("/people/{person_id}/consents", status_code=201, response_model=ConsentOut)
    async def consent(person_id: str, body: ConsentIn) -> ConsentOut:
        async with db.transaction() as session:
            granted = await handlers.grant_consent(session, person_id, body.command())
        return ConsentOut.model_validate(granted, from_attributes=True)

    @api.get("/people/{person_id}")
    async def read(person_id: str) -> dict[str, Any]:
        async with db.transaction() as session:
            person, consents = await handlers.get_person(session, person_id)
        return {
            **person.model_dump(mode="json"),
            "consents": [ConsentOut.model_validate(c, from_attributes=True) for c in consents],
        }

    @api.get("/counts")
    async def counts() -> dict[str, int]:
        async with db.transaction() as session:
            return await handlers.counts(session)

    return api


def install(app: FastAPI, db: Database) -> None:
    app.include_router(router(db))
