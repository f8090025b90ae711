"""`skillbridge bench-envelope`: µs per event to encode and decode a record, the way
shared/envelope.py did it with the cloudevents SDK (and rfc8785 for the signed bytes) and
the way it does now (its fast path), in one process, on the same events.

Each figure is the best of several rounds of N events, the two ways interleaved, so load
from other processes on the machine inflates both alike. Ed25519 itself (sign, verify) is
timed alone: both ways pay it, so it is the floor of a signed record; the `(no curve)` rows
are the whole encode and decode with a key that skips the curve arithmetic, i.e. what the
envelope itself costs. The figures go to the terminal and to
`<data_dir>/envelope-<timestamp>.json`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, cast

from shared import envelope, signing
from shared.envelope import Envelope, decode, encode, source_of
from shared.events import (
    EVENT_TYPES,
    Event,
    LearnerApplied,
    LoanReferralCreated,
    PersonRegistered,
    QualificationAwarded,
    TrainingCompleted,
)
from shared.settings import ServiceSettings

Wire = tuple[list[tuple[str, bytes]], bytes, bytes]  # headers, key, value


def sample_events(count: int) -> list[Event]:
    """Events of the journey's hot path, in turn, each about a different person."""
    now = datetime.now(UTC)
    made: list[Event] = []
    for n in range(count):
        person = str(uuid.UUID(int=n + 1))
        kinds: list[Event] = [
            PersonRegistered(
                person_id=person, province_code="TH-72", birth_year=1990, registered_at=now
            ),
            LearnerApplied(
                person_id=person,
                application_id=f"a-{n}",
                programme_code="p-1",
                cohort_code="c-1",
                occupation="gardener",
                applied_at=now,
            ),
            TrainingCompleted(
                person_id=person,
                enrolment_id=f"a-{n}",
                programme_code="p-1",
                cohort_code="c-1",
                occupation="gardener",
                hours=120,
                completed_at=now,
            ),
            QualificationAwarded(
                person_id=person,
                certificate_number=f"SB-2026-{n}",
                occupation="gardener",
                level=2,
                valid_until=date(2029, 1, 1),
                awarded_at=now,
            ),
            LoanReferralCreated(
                person_id=person,
                referral_id=f"r-{n}",
                lender_code="gsb",
                product_code="gsb-occupation-loan",
                occupation="gardener",
                level=2,
                certificate_number=f"SB-2026-{n}",
                matched_clauses=["level >= 2"],
                created_at=now,
            ),
        ]
        made.append(kinds[n % len(kinds)])
    return made


# --- before: the SDK's way, as shared/envelope.py had it ----------------------------------


def sdk_encode(event: Event) -> envelope.EncodedRecord:
    headers, value = envelope.sdk_binary(
        event,
        source=source_of(event.service),
        event_id=str(uuid.uuid4()),
        time=datetime.now(UTC),
    )
    signature = signing.signer(event.service).sign(signing.jcs_canonical_bytes(headers, value))
    headers[signing.HEADER] = f"{signing.ALG};kid={event.service};sig={signing.b64url(signature)}"
    return envelope.EncodedRecord(event.key().encode(), value, headers)


def sdk_decode(
    headers: list[tuple[str, bytes]], key: bytes, value: bytes, keys: signing.PublicKeys
) -> Envelope:
    header_map = dict(headers)
    attributes = envelope.sdk_attributes(header_map, key, value)
    event_cls = EVENT_TYPES[attributes.type]
    text = {n: raw.decode() for n, raw in header_map.items() if n in signing.READ_HEADERS}
    kid, signature = signing.parse_header(text[signing.HEADER])
    public = keys.get(event_cls.service)
    assert public is not None and kid == event_cls.service
    public.verify(signature, signing.jcs_canonical_bytes(text, value))
    return Envelope(
        event=event_cls.model_validate(attributes.data),
        id=attributes.id,
        source=attributes.source,
        type=attributes.type,
        time=attributes.time or datetime.now(UTC),
        subject=attributes.subject,
        trace_carrier={},
    )


# --- timing ---------------------------------------------------------------------------------


def best_us(runs: Mapping[str, Callable[[], object]], per: int, rounds: int) -> dict[str, float]:
    """µs per item of each run: the best of `rounds`, the runs interleaved in each round."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - started) / per * 1e6)
    return best


def _wire(record: envelope.EncodedRecord) -> Wire:
    return [(k, v.encode()) for k, v in record.headers.items()], record.key, record.value


class _NoCurve:
    """Stands in for both Ed25519 keys: times everything a signed record costs but the curve
    arithmetic, which both ways pay alike."""

    def sign(self, message: bytes) -> bytes:
        return bytes(64)

    def verify(self, signature: bytes, message: bytes) -> None:
        return None


class _NoCurveKeys(signing.PublicKeys):
    def get(self, service: str) -> Any:
        return _NoCurve()


def _without_curve(run: Callable[[], None]) -> Callable[[], None]:
    def wrapped() -> None:
        signers = dict(signing._SIGNERS)  # the bench's own keys, put back after
        signing._SIGNERS.update(dict.fromkeys(signers, cast(Any, _NoCurve())))
        try:
            run()
        finally:
            signing._SIGNERS.update(signers)

    return wrapped


def _each(work: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    def run() -> None:
        for item in items:
            work(item)

    return run


def measure(count: int, rounds: int, keys: signing.PublicKeys) -> dict[str, float]:
    events = sample_events(count)
    records = [_wire(sdk_encode(event)) for event in events]
    for (headers, key, value), event in zip(records, events, strict=True):  # same either way
        assert decode(headers, key, value, keys=keys).event == event
        assert sdk_decode(headers, key, value, keys) == decode(headers, key, value, keys=keys)
    unsigned = [([h for h in hs if h[0] != signing.HEADER], k, v) for hs, k, v in records]
    texts = [({n: raw.decode() for n, raw in hs}, v) for hs, _, v in unsigned]
    message = signing.canonical_bytes(texts[0][0], texts[0][1])
    private = signing.signer(events[0].service)
    public, signature = private.public_key(), private.sign(message)
    no_curve = _NoCurveKeys({}, None)
    when, source = datetime.now(UTC), source_of(events[0].service)

    def encode_fast(event: Event) -> object:
        return encode(event, source=source_of(event.service))

    runs: dict[str, Callable[[], None]] = {
        "encode sdk": _each(sdk_encode, events),
        "encode fast": _each(encode_fast, events),
        "decode sdk": _each(lambda r: sdk_decode(r[0], r[1], r[2], keys), records),
        "decode fast": _each(lambda r: decode(r[0], r[1], r[2], keys=keys), records),
        "encode sdk (no curve)": _without_curve(_each(sdk_encode, events)),
        "encode fast (no curve)": _without_curve(_each(encode_fast, events)),
        "decode sdk (no curve)": _each(lambda r: sdk_decode(r[0], r[1], r[2], no_curve), records),
        "decode fast (no curve)": _each(lambda r: decode(r[0], r[1], r[2], keys=no_curve), records),
        "write sdk (no signature)": _each(
            lambda e: envelope.sdk_binary(e, source=source, event_id="i", time=when), events
        ),
        "write fast (no signature)": _each(
            lambda e: envelope.binary(e, source=source, event_id="i", time=when), events
        ),
        "read sdk (no signature)": _each(
            lambda r: envelope.sdk_attributes(dict(r[0]), r[1], r[2]), unsigned
        ),
        "read fast (no signature)": _each(
            lambda r: envelope.fast_attributes({k: v.decode() for k, v in r[0]}, r[1], r[2]),
            unsigned,
        ),
        "signed bytes rfc8785": _each(lambda t: signing.jcs_canonical_bytes(*t), texts),
        "signed bytes fast": _each(lambda t: signing.canonical_bytes(*t), texts),
        "ed25519 sign": _each(lambda _: private.sign(message), events),
        "ed25519 verify": _each(lambda _: public.verify(signature, message), events),
    }
    return best_us(runs, count, rounds)


def report(figures: dict[str, float], out: TextIO) -> dict[str, float]:
    # ratio -> (the SDK's way, the fast path)
    pairs = {
        "encode": ("encode sdk", "encode fast"),
        "decode": ("decode sdk", "decode fast"),
        "encode (no curve)": ("encode sdk (no curve)", "encode fast (no curve)"),
        "decode (no curve)": ("decode sdk (no curve)", "decode fast (no curve)"),
        "write (no signature)": ("write sdk (no signature)", "write fast (no signature)"),
        "read (no signature)": ("read sdk (no signature)", "read fast (no signature)"),
        "signed bytes": ("signed bytes rfc8785", "signed bytes fast"),
    }
    ratios = {name: figures[sdk] / figures[fast] for name, (sdk, fast) in pairs.items()}
    out.write(f"{'µs per event':<28}{'µs':>9}\n")
    for name, us in figures.items():
        out.write(f"{name:<28}{us:>9.2f}\n")
    out.write("\nsdk / fast\n")
    for name, ratio in ratios.items():
        out.write(f"{name:<28}{ratio:>8.1f}x\n")
    return ratios


def run(events: int, rounds: int, data_dir: Path, out: TextIO = sys.stdout) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-envelope-keys-") as keys_dir:
        os.environ["EVENT_KEYS_DIR"] = keys_dir  # the bench's own signing keys
        for service in ("registry", "training", "certification", "funding"):
            signing.install(service, ServiceSettings(event_keys_dir=Path(keys_dir)))
        keys = signing.PublicKeys({}, Path(keys_dir))
        out.write(f"{events:,} events, best of {rounds} rounds each\n")
        figures = measure(events, rounds, keys)
    ratios = report(figures, out)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"envelope-{stamp}.json"
    document = {
        "bench": "envelope",
        "at": stamp,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "events": events,
        "rounds": rounds,
        "us_per_event": {name: round(us, 3) for name, us in figures.items()},
        "sdk_over_fast": {name: round(r, 2) for name, r in ratios.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out.write(f"\nfigures written to {path}\n")
    return 0
