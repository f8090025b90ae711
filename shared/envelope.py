"""CloudEvents 1.0 in Kafka binary mode.

Attributes travel as `ce_*` headers, the event's JSON is the record value and the
person's opaque id is the record key. Every record is signed by the service that owns its
type (shared/signing.py) and verified before it is used.

The hot path writes and reads these few fixed headers directly, at a third to a half of what
the cloudevents SDK's generic code costs (`skillbridge bench-envelope`). What it writes is
byte for byte what the SDK writes (`sdk_binary`; tests/unit/test_envelope_fast.py proves it
over the catalogue), and a record it is not sure of (any header, time or value it does not
expect) is read by the SDK, as before, so a bad record is refused for the same reason.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dateutil.tz import UTC as SDK_UTC  # the tzinfo the SDK's parser gives a `Z` time
from pydantic import ValidationError

from shared import signing
from shared.events import EVENT_TYPES, Event

_FORMAT = JSONFormat()
CONTENT_TYPE = "application/json"
SPECVERSION = "1.0"
TRACE_HEADERS = ("traceparent", "tracestate")
# The attribute headers the fast path reads, spelt as encode writes them.
_CE_HEADERS = frozenset(
    {"ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_specversion"}
)
# The headers of a record as it arrives (FastStream adds content-type first and its
# correlation_id; tracing adds its own): others are looked at one by one.
_USUAL_HEADERS = _CE_HEADERS | {
    "content-type",
    signing.HEADER,
    "correlation_id",
    *TRACE_HEADERS,
}
# The one `time` form encode writes (isoformat in UTC, `Z`): anything else goes to the SDK.
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z")


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


class Attributes(NamedTuple):
    """What decoding reads from a record before the event itself is validated."""

    id: str
    source: str
    type: str
    time: datetime | None
    subject: str | None
    data: Any


def source_of(service: str) -> str:
    return f"/skillbridge/{service}"


def _utc_text(time: datetime) -> str:
    # The SDK's form: isoformat, with `Z` for a zero offset.
    text = time.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def cloud_event(event: Event, *, source: str, event_id: str, time: datetime) -> CloudEvent:
    """The event as the SDK's CloudEvent: what a record and a webhook body both carry."""
    attributes = {
        "id": event_id,
        "source": source,
        "type": event.ce_type(),
        "time": time,
        "subject": event.key(),
        "datacontenttype": CONTENT_TYPE,
    }
    return CloudEvent(attributes, event.model_dump(mode="json"))


def sdk_binary(
    event: Event, *, source: str, event_id: str, time: datetime
) -> tuple[dict[str, str], bytes]:
    """The record's headers (in order) and value, as the cloudevents SDK writes them."""
    cloud = cloud_event(event, source=source, event_id=event_id, time=time)
    message = ce_kafka.to_binary(cloud, _FORMAT, key_mapper=lambda _: event.key())
    return {name: value.decode() for name, value in message.headers.items()}, message.value


def binary(
    event: Event, *, source: str, event_id: str, time: datetime
) -> tuple[dict[str, str], bytes]:
    """sdk_binary's headers and value, written directly."""
    subject = event.key()
    plain = source and subject and event_id  # the SDK refuses an empty or missing one
    if not plain or not (source.isascii() and subject.isascii() and event_id.isascii()):
        return sdk_binary(event, source=source, event_id=event_id, time=time)  # its own rules
    if time.tzinfo is None:
        return sdk_binary(event, source=source, event_id=event_id, time=time)
    # The SDK's order: the attributes as given, then the specversion it adds.
    headers = {
        "ce_id": event_id,
        "ce_source": source,
        "ce_type": event.ce_type(),
        "ce_time": _utc_text(time),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
        "ce_specversion": SPECVERSION,
    }
    # json.dumps with its defaults, as the SDK's JSONFormat.write_data (ensure_ascii, ", ").
    return headers, json.dumps(event.model_dump(mode="json")).encode()


def encode(event: Event, *, source: str, event_id: str | None = None) -> EncodedRecord:
    headers, value = binary(
        event, source=source, event_id=event_id or str(uuid.uuid4()), time=datetime.now(UTC)
    )
    # Signed by the type's owner, stored with the outbox row: a replay or re-drive is the same.
    headers[signing.HEADER] = signing.sign(event.service, headers, value)
    return EncodedRecord(key=event.key().encode(), value=value, headers=headers)


def sdk_attributes(header_map: Mapping[str, bytes], key: bytes | None, value: bytes) -> Attributes:
    """The record's attributes and data as the cloudevents SDK reads them; PoisonMessage if it
    refuses the record."""
    try:
        cloud_event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=dict(header_map), key=key, value=value),
            _FORMAT,
            CloudEvent,
        )
    except Exception as exc:  # the SDK raises several unrelated types for bad input
        raise PoisonMessage(f"not a CloudEvent in Kafka binary mode: {exc}") from exc
    return Attributes(
        id=cloud_event.get_id(),
        source=cloud_event.get_source(),
        type=cloud_event.get_type(),
        time=cloud_event.get_time(),
        subject=cloud_event.get_subject(),
        data=cloud_event.get_data(),
    )


def fast_attributes(text: Mapping[str, str], key: bytes | None, value: bytes) -> Attributes | None:
    """sdk_attributes for a record shaped as encode writes it; None for any other."""
    if not _USUAL_HEADERS.issuperset(text):
        for name in text:
            lowered = name.lower()
            if lowered.startswith("ce_") and name not in _CE_HEADERS:
                return None  # another attribute, or another spelling: the SDK's rules
            if lowered == "content-type" and name != "content-type":
                return None
    get = text.get
    event_id, source, ce_type = get("ce_id"), get("ce_source"), get("ce_type")
    subject, raw_time = get("ce_subject"), get("ce_time")
    if not (event_id and source and ce_type) or get("ce_specversion") != SPECVERSION:
        return None
    if subject == "" or get("content-type", CONTENT_TYPE) != CONTENT_TYPE or not value:
        return None
    try:
        if key is not None:
            key.decode()  # the SDK reads it as its partitionkey: it must be UTF-8
        time = None
        if raw_time is not None:
            if not _UTC_TIME.fullmatch(raw_time):
                return None
            time = datetime.fromisoformat(raw_time[:-1]).replace(tzinfo=SDK_UTC)
        data = json.loads(value.decode())
    except Exception:  # whatever it is, the SDK says what it makes of it
        return None
    return Attributes(event_id, source, ce_type, time, subject, data)


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
    value = value or b""
    try:
        text: dict[str, str] | None = {name: raw.decode() for name, raw in header_map.items()}
    except Exception:  # not UTF-8 (or not bytes): the SDK refuses it below
        text = None
    attributes = fast_attributes(text, key, value) if text is not None else None
    if attributes is None or text is None:
        attributes = sdk_attributes(header_map, key, value)
        text = {name: raw.decode() for name, raw in header_map.items()}  # the SDK read them

    event_cls = EVENT_TYPES.get(attributes.type)
    if event_cls is None:
        raise PoisonMessage(f"unknown event type {attributes.type!r}")
    try:
        signed = {name: raw for name, raw in text.items() if name in signing.READ_HEADERS}
        # The key of the service that owns the type, whatever ce_source the record claims.
        keys.verify(signed, value, event_cls.service)
    except signing.SignatureError as exc:
        raise PoisonMessage(f"{attributes.type}: {exc}") from exc
    data = attributes.data
    if not isinstance(data, dict):
        raise PoisonMessage(f"{attributes.type}: data is not a JSON object")
    try:
        event = event_cls.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage(f"{attributes.type}: invalid data: {exc}") from exc

    carrier = {
        name: header_map[name].decode("latin-1") for name in TRACE_HEADERS if name in header_map
    }
    return Envelope(
        event=event,
        id=attributes.id,
        source=attributes.source,
        type=attributes.type,
        time=attributes.time or datetime.now(UTC),
        subject=attributes.subject,
        trace_carrier=carrier,
    )


def peek_type(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """The ce_type header, read without parsing the record (to skip unhandled types cheaply)."""
    for name, raw in headers:
        if name == "ce_type":
            return raw.decode("utf-8", errors="replace")
    return None
