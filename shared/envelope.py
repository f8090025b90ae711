"""CloudEvents 1.0 in Kafka binary mode, built and parsed by the cloudevents SDK.

Attributes travel as `ce_*` headers, the event's JSON is the record value and the
person's opaque id is the record key. Every record is signed by the service that owns its
type (shared/signing.py) and verified before it is used.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from shared import signing
from shared.events import EVENT_TYPES, Event

_FORMAT = JSONFormat()
CONTENT_TYPE = "application/json"
TRACE_HEADERS = ("traceparent", "tracestate")


class PoisonMessage(ValueError):
    """A record that can never be processed as it is: it goes to the dead-letter topic."""


@dataclass(frozen=True)
class EncodedRecord:
    key: bytes
    value: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Envelope:
    event: Event
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None
    trace_carrier: dict[str, str]


def source_of(service: str) -> str:
    return f"/skillbridge/{service}"


def encode(event: Event, *, source: str, event_id: str | None = None) -> EncodedRecord:
    attributes = {
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event.ce_type(),
        "time": datetime.now(UTC),
        "subject": event.key(),
        "datacontenttype": CONTENT_TYPE,
    }
    cloud_event = CloudEvent(attributes, event.model_dump(mode="json"))
    message = ce_kafka.to_binary(cloud_event, _FORMAT, key_mapper=lambda _: event.key())
    headers = {name: value.decode() for name, value in message.headers.items()}
    # Signed by the type's owner, stored with the outbox row: a replay or re-drive is the same.
    headers[signing.HEADER] = signing.sign(event.service, headers, message.value)
    return EncodedRecord(key=event.key().encode(), value=message.value, headers=headers)


def decode(
    headers: Iterable[tuple[str, bytes]],
    key: bytes | None,
    value: bytes | None,
    *,
    keys: signing.PublicKeys,
) -> Envelope:
    """Parse and verify one record; raises PoisonMessage with the reason when it cannot be
    used (unsigned or forged records included)."""
    header_map = {name: raw for name, raw in headers}
    try:
        cloud_event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""),
            _FORMAT,
            CloudEvent,
        )
    except Exception as exc:  # the SDK raises several unrelated types for bad input
        raise PoisonMessage(f"not a CloudEvent in Kafka binary mode: {exc}") from exc

    ce_type = cloud_event.get_type()
    event_cls = EVENT_TYPES.get(ce_type)
    if event_cls is None:
        raise PoisonMessage(f"unknown event type {ce_type!r}")
    try:
        text_headers = {
            name: raw.decode() for name, raw in header_map.items() if name in signing.READ_HEADERS
        }
        # The key of the service that owns the type, whatever ce_source the record claims.
        keys.verify(text_headers, value or b"", event_cls.service)
    except (signing.SignatureError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"{ce_type}: {exc}") from exc
    data = cloud_event.get_data()
    if not isinstance(data, dict):
        raise PoisonMessage(f"{ce_type}: data is not a JSON object")
    try:
        event = event_cls.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage(f"{ce_type}: invalid data: {exc}") from exc

    time = cloud_event.get_time() or datetime.now(UTC)
    carrier = {
        name: header_map[name].decode("latin-1") for name in TRACE_HEADERS if name in header_map
    }
    return Envelope(
        event=event,
        id=cloud_event.get_id(),
        source=cloud_event.get_source(),
        type=ce_type,
        time=time,
        subject=cloud_event.get_subject(),
        trace_carrier=carrier,
    )


def peek_type(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """The ce_type header, read without parsing the record (to skip unhandled types cheaply)."""
    for name, raw in headers:
        if name == "ce_type":
            return raw.decode("utf-8", errors="replace")
    return None
