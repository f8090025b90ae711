"""Registry use cases on a migrated SQLite database, without a broker: what each one
staged in the outbox (cosmicpython's handler tests are the model)."""

from __future__ import annotations

import json

import pytest

from services.registry.handlers import people, places
from services.registry.schemas import PersonIn
from services.registry.tables import Outbox
from shared.db import Database
from shared.errors import Conflict
from shared.events import PERSONAL_DATA_FIELDS, PersonRegistered
from shared.topics import REGISTRY
from tests.support.outbox import names, staged
from tests.support.registry import person

ACTOR = "handler-test"


async def register(db: Database, body: dict[str, object]) -> people.Registered:
    async with db.transaction() as session:
        return await people.register_person(session, ACTOR, PersonIn.model_validate(body))


async def test_registering_a_person_stages_person_registered_without_personal_data(
    registry_db: Database,
) -> None:
    body = person()
    registered = await register(registry_db, body)

    async with registry_db.transaction() as session:
        [event] = await staged(session, Outbox)
    assert event.name == PersonRegistered.__name__
    assert (event.topic, event.key) == (REGISTRY, registered.person.person_id)
    assert event.data["province_code"] == "34" and event.data["birth_year"] == 1987
    assert not set(event.data) & PERSONAL_DATA_FIELDS
    assert body["national_id"] not in json.dumps(event.data)


async def test_the_same_national_id_again_is_refused_and_stages_nothing(
    registry_db: Database,
) -> None:
    body = person()
    await register(registry_db, body)
    with pytest.raises(Conflict):
        await register(registry_db, {**body, "first_name_th": "อื่น"})

    async with registry_db.transaction() as session:
        assert names(await staged(session, Outbox)) == ["PersonRegistered"]


async def test_a_consent_that_shares_data_stages_the_grant_and_the_data_for_that_lender(
    registry_db: Database,
) -> None:
    await places.load_reference_data(registry_db)  # start-up: the partner lenders
    consents = [{"lender_code": "gsb", "data_categories": ["contact"]}]
    registered = await register(registry_db, person(consents=consents))

    async with registry_db.transaction() as session:  # the organisations announced aside
        events = [e for e in await staged(session, Outbox) if e.key == registered.person.person_id]
    assert names(events) == ["PersonRegistered", "ConsentGranted", "PersonalDataShared"]
    shared = events[-1]
    assert shared.topic != REGISTRY  # the private topic, never the broadcast one
    assert shared.data["lender_code"] == "gsb"
    assert shared.data["data"]["phone"] == "0812345678"
    assert shared.data["data"]["national_id"] is None  # identity was not consented
