from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from shared import events, signing
from shared.asyncapi import asyncapi_document
from shared.envelope import PoisonMessage, decode, encode
from shared.settings import ServiceSettings
from shared.signing import PublicKeys
from shared.topics import BROADCAST_TOPICS, dlq_topic, partner_topic, private_topic


def test_ce_type_and_topic_follow_the_architecture() -> None:
    assert events.TrainingCompleted.ce_type() == "skillbridge.training.TrainingCompleted.v1"
    assert events.QualificationAwarded.topic() == "skillbridge.certification.v1"
    assert partner_topic("gsb") == "skillbridge.partner.gsb.v1"
    assert dlq_topic("skillbridge.registry.v1") == "skillbridge.registry.v1.dlq"
    with pytest.raises(ValueError, match="partner code"):
        partner_topic("GSB bank")


def test_every_event_is_in_the_catalogue_once_and_on_the_topic_of_its_audience() -> None:
    assert len(events.EVENT_TYPES) == len(events.CATALOGUE)
    for cls in events.CATALOGUE:
        if cls.audience is None:
            assert cls.topic() in BROADCAST_TOPICS
        elif cls.audience == events.PARTNER:
            with pytest.raises(TypeError, match="partner_topic"):
                cls.topic()
        else:
            assert cls.topic() == private_topic(cls.service, cls.audience)
            assert cls.topic().startswith("skillbridge.private.")
    assert events.PersonalDataShared.topic() == "skillbridge.private.registry-to-funding.v1"


def _field_names(model: type[BaseModel]) -> set[str]:
    """Every field name, nested models included (personal data must not hide one level down)."""
    names = set(model.model_fields)
    for info in model.model_fields.values():
        for arg in (info.annotation, *get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _field_names(arg)
    return names


@pytest.mark.parametrize(
    "cls", [c for c in events.CATALOGUE if c.is_broadcast()], ids=lambda c: c.__name__
)
def test_no_broadcast_event_carries_personal_data(cls: type[events.Event]) -> None:
    assert not _field_names(cls) & events.PERSONAL_DATA_FIELDS


def test_the_personal_data_check_looks_into_nested_models() -> None:
    # The events that may carry personal data do so in a nested model: the check must see it.
    assert "national_id" in _field_names(events.PersonalDataShared)
    assert "phone" in _field_names(events.LoanReferralShared)


def test_json_schemas_are_exported_for_every_type() -> None:
    schemas = events.json_schemas()
    assert set(schemas) == set(events.EVENT_TYPES)
    assert "certificate_number" in schemas[events.QualificationAwarded.ce_type()]["properties"]  # type: ignore[index]


def _award() -> events.QualificationAwarded:
    return events.QualificationAwarded(
        person_id="00000000-0000-4000-8000-000000000001",
        certificate_number="SB-2026-AB",
        occupation="gardener",
        level=2,
        valid_until=date(2029, 1, 1),
        awarded_at=datetime.now(UTC),
    )


def test_binary_mode_round_trip() -> None:
    record = encode(_award(), source="/skillbridge/certification")
    assert record.key == b"00000000-0000-4000-8000-000000000001"
    for header in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"):
        assert record.headers[header]
    assert record.headers["content-type"] == "application/json"
    envelope = decode(
        [(k, v.encode()) for k, v in record.headers.items()],
        record.key,
        record.value,
        keys=PublicKeys.from_settings(ServiceSettings()),
    )
    assert envelope.event == _award().model_copy(update={"awarded_at": envelope.event.awarded_at})  # type: ignore[attr-defined]
    assert envelope.id == record.headers["ce_id"]


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"{}", "not a CloudEvent"),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"skillbridge.nope.Nothing.v1"),
                ("content-type", b"application/json"),
            ],
            b"{}",
            "unknown event type",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", events.PersonRegistered.ce_type().encode()),
                ("content-type", b"application/json"),
            ],
            b'{"person_id": "p"}',
            "invalid data",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", events.PersonRegistered.ce_type().encode()),
                ("content-type", b"application/json"),
            ],
            b"{not json",
            "not a JSON object",
        ),
    ],
)
def test_unusable_records_are_poison(
    headers: list[tuple[str, bytes]], value: bytes, reason: str
) -> None:
    # Signed by registry, so each is refused for the reason under test, not the signature.
    text = {k: v.decode() for k, v in headers}
    signed = [*headers, (signing.HEADER, signing.sign("registry", text, value).encode())]
    with pytest.raises(PoisonMessage, match=reason):
        decode(signed, b"k", value, keys=PublicKeys.from_settings(ServiceSettings()))


def test_published_json_schemas_match_the_catalogue() -> None:
    folder = Path(__file__).parents[2] / "docs" / "events"
    expected = events.schema_files()
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(expected), (
        "run `skillbridge schemas` and commit docs/events/"
    )
    for name, text in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == text, name


def test_published_asyncapi_document_matches_the_catalogue() -> None:
    path = Path(__file__).parents[2] / "docs" / "asyncapi.json"
    assert path.read_text(encoding="utf-8") == asyncapi_document(), (
        "run `skillbridge schemas` and commit docs/asyncapi.json"
    )
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {*BROADCAST_TOPICS, events.PersonalDataShared.topic()} <= addresses
    assert "skillbridge.partner.{lender_code}.v1" in addresses
    # One per event, and one more for each referral step funding also sends to the lender.
    on_both = [
        cls
        for cls in events.CATALOGUE
        if issubclass(cls, events.ReferralEvent)
        and cls.is_broadcast()
        and cls is not events.LoanReferralHeld
    ]
    assert len(document["operations"]) == len(events.CATALOGUE) + len(on_both)
    partner = {key for key in document["channels"] if key.startswith("skillbridge.partner.")}
    assert {f"skillbridge.partner.{{lender_code}}.v1:{cls.__name__}" for cls in on_both} <= partner
