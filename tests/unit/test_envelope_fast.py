"""The envelope's fast path writes and reads exactly what the cloudevents SDK does.

The reference here is the SDK itself, used as shared/envelope.py used it before the fast
path (CloudEvent + kafka.to_binary / from_binary, signatures over rfc8785's JCS), so the
fast path is checked against the SDK, not against a copy of itself.
"""

from __future__ import annotations

import contextlib
import enum
import random
import types
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Union, get_args, get_origin

import pytest
from annotated_types import Ge, Le, MaxLen, MinLen
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shared import envelope, events, signing
from shared.envelope import Envelope, PoisonMessage, decode, encode
from shared.settings import ServiceSettings
from shared.signing import PublicKeys

_FORMAT = JSONFormat()
TEXTS = [
    "gardener",
    "ช่างเชื่อม ระดับ 2",  # Thai
    'Zoë "quoted" \\ back\\slash',
    "line\nbreak\ttab\r\x00\x1f\x7f",
    "\u2028\u2029 separators",
    "emoji 🌾🚜 and 𝔘𝔫𝔦",
    "</script><b>&amp;",
    "x" * 60,
    "",
    " ",
]
TRACE = ("traceparent", "tracestate")
OFFSETS = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))]


# --- events with varied fields ------------------------------------------------------------


def _text(rng: random.Random, info: FieldInfo) -> str:
    text = rng.choice(TEXTS) if rng.random() < 0.7 else str(uuid.UUID(int=rng.getrandbits(128)))
    for rule in info.metadata:
        if isinstance(rule, MaxLen):
            text = text[: rule.max_length]
        if isinstance(rule, MinLen) and len(text) < rule.min_length:
            text += "k" * (rule.min_length - len(text))
    return text


def _int(rng: random.Random, info: FieldInfo) -> int:
    low, high = -5, 10**12
    for rule in info.metadata:
        if isinstance(rule, Ge):
            low = int(rule.ge)  # type: ignore[call-overload]
        if isinstance(rule, Le):
            high = int(rule.le)  # type: ignore[call-overload]
    return rng.randint(low, high)


def _datetime(rng: random.Random) -> datetime:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(-(10**9), 10**9))
    if rng.random() < 0.6:
        when = when.replace(microsecond=rng.randint(0, 999_999))
    if rng.random() < 0.1:
        return when.replace(tzinfo=None)  # naive: pydantic keeps it so
    return when.astimezone(rng.choice(OFFSETS))


def _value(rng: random.Random, annotation: Any, info: FieldInfo) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        if rng.random() < 0.4:
            return None
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return [_text(rng, FieldInfo()) for _ in range(rng.randint(0, 3))]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _fields(rng, annotation)
    makers = {
        str: lambda: _text(rng, info),
        int: lambda: _int(rng, info),
        bool: lambda: rng.random() < 0.5,
        date: lambda: date(1950, 1, 1) + timedelta(days=rng.randint(0, 40_000)),
        datetime: lambda: _datetime(rng),
    }
    return makers[annotation]()


def _fields(rng: random.Random, model: type[BaseModel]) -> dict[str, Any]:
    return {name: _value(rng, info.annotation, info) for name, info in model.model_fields.items()}


def _events(cls: type[events.Event], count: int = 40) -> list[events.Event]:
    rng = random.Random(cls.__name__)
    made: list[events.Event] = []
    while len(made) < count:
        try:
            made.append(cls.model_validate(_fields(rng, cls)))
        except ValidationError:
            continue
    return made


def _ids(rng: random.Random) -> tuple[str, datetime]:
    event_id = str(uuid.UUID(int=rng.getrandbits(128)))
    time = datetime(2026, 11, 28, tzinfo=UTC) + timedelta(microseconds=rng.randint(0, 10**12))
    if rng.random() < 0.3:
        time = time.replace(microsecond=0)  # isoformat drops the fraction: both must
    return event_id, time


# --- the SDK, as envelope.py used it ------------------------------------------------------


def _sdk_write(
    event: events.Event, source: str, event_id: str, time: datetime
) -> tuple[dict[str, str], bytes]:
    attributes = {
        "id": event_id,
        "source": source,
        "type": event.ce_type(),
        "time": time,
        "subject": event.key(),
        "datacontenttype": "application/json",
    }
    cloud_event = CloudEvent(attributes, event.model_dump(mode="json"))
    message = ce_kafka.to_binary(cloud_event, _FORMAT, key_mapper=lambda _: event.key())
    assert message.key == event.key()
    return {name: value.decode() for name, value in message.headers.items()}, message.value


def _sdk_sign(service: str, headers: dict[str, str], value: bytes) -> str:
    signature = signing.signer(service).sign(signing.jcs_canonical_bytes(headers, value))
    return f"ed25519;kid={service};sig={signing.b64url(signature)}"


def _sdk_read(headers: list[tuple[str, bytes]], key: bytes | None, value: bytes | None) -> Envelope:
    """decode as it was: the SDK parses, rfc8785 canonical bytes are verified."""
    header_map = dict(headers)
    try:
        cloud_event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""),
            _FORMAT,
            CloudEvent,
        )
    except Exception as exc:
        raise PoisonMessage(f"not a CloudEvent in Kafka binary mode: {exc}") from exc
    ce_type = cloud_event.get_type()
    event_cls = events.EVENT_TYPES.get(ce_type)
    if event_cls is None:
        raise PoisonMessage(f"unknown event type {ce_type!r}")
    text = {k: v.decode() for k, v in header_map.items() if k in signing.READ_HEADERS}
    try:
        kid, signature = signing.parse_header(text.get(signing.HEADER, ""))
        key_of_owner = signing.signer(event_cls.service).public_key()
        if kid != event_cls.service:
            raise signing.SignatureError(f"signed by {kid!r}")
        key_of_owner.verify(signature, signing.jcs_canonical_bytes(text, value or b""))
    except Exception as exc:
        raise PoisonMessage(f"{ce_type}: bad signature") from exc
    data = cloud_event.get_data()
    if not isinstance(data, dict):
        raise PoisonMessage(f"{ce_type}: data is not a JSON object")
    try:
        event = event_cls.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage(f"{ce_type}: invalid data: {exc}") from exc
    return Envelope(
        event=event,
        id=cloud_event.get_id(),
        source=cloud_event.get_source(),
        type=ce_type,
        time=cloud_event.get_time() or datetime.now(UTC),
        subject=cloud_event.get_subject(),
        trace_carrier={n: header_map[n].decode("latin-1") for n in TRACE if n in header_map},
    )


# --- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", events.CATALOGUE, ids=lambda c: c.__name__)
def test_the_fast_writer_writes_what_the_sdk_writes(cls: type[events.Event]) -> None:
    rng = random.Random(f"ids-{cls.__name__}")
    source = envelope.source_of(cls.service)
    for event in _events(cls):
        event_id, time = _ids(rng)
        try:
            expected = _sdk_write(event, source, event_id, time)
        except Exception as refused:  # e.g. an empty key: the SDK refuses it, so must we
            with pytest.raises(type(refused)):
                envelope.binary(event, source=source, event_id=event_id, time=time)
            continue
        headers, value = envelope.binary(event, source=source, event_id=event_id, time=time)
        assert list(headers.items()) == list(expected[0].items())  # names, order, values
        assert value == expected[1]
        assert (headers, value) == envelope.sdk_binary(
            event, source=source, event_id=event_id, time=time
        )

        # A valid binary-mode CloudEvent: the SDK reads back the same attributes and data.
        read = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(
                headers={k: v.encode() for k, v in headers.items()},
                key=event.key().encode(),
                value=value,
            ),
            _FORMAT,
            CloudEvent,
        )
        assert read.get_specversion() == "1.0"
        assert read.get_id() == event_id
        assert read.get_source() == source
        assert read.get_type() == cls.ce_type()
        assert read.get_time() == time
        assert read.get_subject() == event.key()
        assert read.get_datacontenttype() == "application/json"
        assert read.get_extension("partitionkey") == event.key()
        assert read.get_data() == event.model_dump(mode="json")
        assert cls.model_validate(read.get_data()) == event


@pytest.mark.parametrize("cls", events.CATALOGUE, ids=lambda c: c.__name__)
def test_a_whole_record_is_the_one_the_sdk_and_rfc8785_made(cls: type[events.Event]) -> None:
    source = envelope.source_of(cls.service)
    for n, event in enumerate(_events(cls, 8)):
        try:
            record = encode(event, source=source, event_id=f"id-{n}")
        except Exception:
            continue  # refused as the SDK refuses it: the test above
        time = datetime.fromisoformat(record.headers["ce_time"])
        headers, value = _sdk_write(event, source, f"id-{n}", time)
        # Ed25519 is deterministic: the same bytes signed give the same signature.
        headers[signing.HEADER] = _sdk_sign(cls.service, headers, value)
        assert list(record.headers.items()) == list(headers.items())
        assert record.value == value
        assert record.key == event.key().encode()


class _Kind(str, enum.Enum):  # noqa: UP042 (StrEnum's str() is its value)
    PLAIN = "plain"


def test_canonical_bytes_are_rfc8785s_for_any_header_values() -> None:
    rng = random.Random("canonical")
    values = [*TEXTS, "a4b0c0e2-1a5c-4c59-9a7e-3d1f1f5e2b7a", "2026-01-01T00:00:00Z", "\ud800"]
    values += [_Kind.PLAIN] * 3  # a str whose str() is not its text: JCS writes the text
    names = [*signing.SIGNED_ATTRIBUTES.values(), "traceparent", signing.HEADER]
    for _ in range(2_000):
        headers = {n: rng.choice(values) for n in names if rng.random() < 0.8}
        body = rng.choice([b"", b"{}", "ก".encode(), rng.randbytes(40)])
        try:
            expected = signing.jcs_canonical_bytes(headers, body)
        except Exception as refused:  # a lone surrogate: rfc8785 refuses it, so must we
            with pytest.raises(type(refused)):
                signing.canonical_bytes(headers, body)
            continue
        assert signing.canonical_bytes(headers, body) == expected


# --- reading --------------------------------------------------------------------------------


def _keys() -> PublicKeys:
    return PublicKeys.from_settings(ServiceSettings())


def _on_the_wire(event: events.Event, rng: random.Random) -> tuple[list[tuple[str, bytes]], bytes]:
    """An SDK-written, rfc8785-signed record as a consumer gets it: FastStream puts
    content-type first and adds its own headers; tracing adds traceparent."""
    headers, value = _sdk_write(event, envelope.source_of(event.service), *_ids(rng))
    headers[signing.HEADER] = _sdk_sign(event.service, headers, value)
    wire = {"content-type": headers["content-type"], **headers, "correlation_id": "c-1"}
    if rng.random() < 0.5:
        wire["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    return [(k, v.encode()) for k, v in wire.items()], value


@pytest.mark.parametrize("cls", events.CATALOGUE, ids=lambda c: c.__name__)
def test_decoding_sdk_written_records_gives_what_it_gave(cls: type[events.Event]) -> None:
    rng = random.Random(f"wire-{cls.__name__}")
    keys = _keys()
    for event in _events(cls, 12):
        if not event.key():
            continue  # the SDK cannot write it
        headers, value = _on_the_wire(event, rng)
        got = decode(headers, event.key().encode(), value, keys=keys)
        expected = _sdk_read(headers, event.key().encode(), value)
        assert got == expected
        assert got.event == event
        assert got.time.tzinfo is expected.time.tzinfo  # the SDK's parser's UTC, as before


def _signed(headers: list[tuple[str, bytes]], value: bytes, owner: str) -> list[tuple[str, bytes]]:
    """Re-signed by the type's owner over what is there: refused for another reason, if any."""
    plain = [(k, v) for k, v in headers if k != signing.HEADER]
    text = {}
    for k, v in plain:
        with contextlib.suppress(UnicodeDecodeError):  # the SDK refuses the record anyway
            text[k] = v.decode()
    return [*plain, (signing.HEADER, _sdk_sign(owner, text, value).encode())]


def _replace(
    headers: list[tuple[str, bytes]], name: str, raw: bytes | None
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in headers if k != name]
    return kept if raw is None else [*kept, (name, raw)]


AWARD = events.QualificationAwarded(
    person_id="00000000-0000-4000-8000-000000000001",
    certificate_number="SB-2026-AB",
    occupation="gardener",
    level=2,
    valid_until=date(2029, 1, 1),
    awarded_at=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
)
# name -> (header changes, new value or None to keep, re-sign)
ODD_RECORDS: dict[str, tuple[dict[str, bytes | None], bytes | None, bool]] = {
    "no id (the SDK makes one)": ({"ce_id": None}, None, True),
    "no time (now)": ({"ce_time": None}, None, True),
    "no subject": ({"ce_subject": None}, None, True),
    "no content-type": ({"content-type": None}, None, True),
    "time with an offset": ({"ce_time": b"2026-11-28T17:00:00+07:00"}, None, True),
    "time with millis": ({"ce_time": b"2026-11-28T10:00:00.123Z"}, None, True),
    "time 24:00": ({"ce_time": b"2026-11-28T24:00:00Z"}, None, True),
    "naive time": ({"ce_time": b"2026-11-28T10:00:00"}, None, True),
    "not a time": ({"ce_time": b"yesterday"}, None, True),
    "day 31 of november": ({"ce_time": b"2026-11-31T10:00:00Z"}, None, True),
    "upper-case attribute": ({"CE_TYPE": AWARD.ce_type().encode()}, None, True),
    "Content-Type spelling": (
        {"content-type": None, "Content-Type": b"application/json"},
        None,
        True,
    ),
    "an extension": ({"ce_lane": b"fast"}, None, True),
    "a bad extension name": ({"ce_fast_lane": b"yes"}, None, True),
    "dataschema": ({"ce_dataschema": b"https://x/s.json"}, None, True),
    "empty dataschema": ({"ce_dataschema": b""}, None, True),
    "specversion 0.3": ({"ce_specversion": b"0.3"}, None, True),
    "no specversion": ({"ce_specversion": None}, None, True),
    "empty subject": ({"ce_subject": b""}, None, True),
    "empty id": ({"ce_id": b""}, None, True),
    "no source": ({"ce_source": None}, None, True),
    "no type": ({"ce_type": None}, None, True),
    "unknown type": ({"ce_type": b"skillbridge.nope.Nothing.v1"}, None, True),
    "text/plain": ({"content-type": b"text/plain"}, None, True),
    "json with a charset": ({"content-type": b"application/json; charset=utf-8"}, None, True),
    "empty content-type": ({"content-type": b""}, None, True),
    "a header not UTF-8": ({"ce_source": b"/\xff"}, None, True),
    "a trace header not UTF-8": ({"tracestate": b"\xff"}, None, True),
    "empty value": ({}, b"", True),
    "a JSON array": ({}, b"[1, 2]", True),
    "not JSON": ({}, b"{not json", True),
    "value not UTF-8": ({}, b"\xff\xfe{}", True),
    "a UTF-16 JSON value": ({}, '{"a": 1}'.encode("utf-16"), True),
    "invalid data": ({}, b'{"person_id": "p"}', True),
    "deep JSON": ({}, b"[" * 100_000 + b"]" * 100_000, True),
    "unsigned": ({signing.HEADER: None}, None, False),
    "tampered subject": ({"ce_subject": b"someone-else"}, None, False),
    "tampered value": ({}, b'{"level": 4}', False),
    "forged signature": ({signing.HEADER: b"ed25519;kid=certification;sig=AAAA"}, None, False),
    "wrong owner": ({signing.HEADER: b"ed25519;kid=registry;sig=AAAA"}, None, False),
}


@pytest.mark.parametrize("name", ODD_RECORDS)
@pytest.mark.parametrize("key", [b"00000000-0000-4000-8000-000000000001", None, b"\xff"])
def test_odd_and_bad_records_are_read_or_refused_as_before(name: str, key: bytes | None) -> None:
    changes, new_value, resign = ODD_RECORDS[name]
    headers, value = _on_the_wire(AWARD, random.Random(name))
    if new_value is not None:
        value = new_value
    for header, raw in changes.items():
        headers = _replace(headers, header, raw)
    if resign:
        headers = _signed(headers, value, "certification")
    try:
        expected: Envelope | str = _sdk_read(headers, key, value)
    except PoisonMessage as refused:
        expected = str(refused)
    try:
        got: Envelope | str = decode(headers, key, value, keys=_keys())
    except PoisonMessage as refused:
        got = str(refused)
    if isinstance(expected, str) or isinstance(got, str):
        # The reference says "bad signature" for every signature failure; decode says which.
        if isinstance(expected, str) and expected.endswith(": bad signature"):
            assert isinstance(got, str) and got.startswith(expected.removesuffix("bad signature"))
        else:
            assert got == expected
        return
    now_made = {"id": "no id" in name, "time": "no time" in name}
    for field in ("event", "source", "type", "subject", "trace_carrier", "id", "time"):
        if not now_made.get(field):
            assert getattr(got, field) == getattr(expected, field), field
