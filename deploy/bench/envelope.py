"""`skillbridge bench-envelope`: µs per event to encode and decode a record, the way
shared/envelope.py did it with the cloudevents SDK (and rfc8785 for the signed bytes) and
the way it does now (its fast path), in one process, on the same events.

Each figure is the best of several rounds of N events, the two ways interleaved, so load
from other processes on the machine inflates both alike. Ed25519 itself (sign, verify) is
timed alone: both ways pay it, so it is the floor of a signed record. The figures go to the
terminal and to `<data_dir>/envelope-<timestamp>.json`.
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
from typing import Any, TextIO

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


def measure(count: int, rounds: int, keys: signing.PublicKeys) -> dict[str, float]:
    events = sample_events(count)
    records = [_wire(sdk_encode(event)) for event in events]
    for (headers, key, value), event in zip(records, events, strict=True):  # same either way
        assert decode(headers, key, value, keys=keys).event == event
        assert sdk_decode(headers, key, value, keys) == decode(headers, key, value, keys=keys)
    unsigned = [([h for h in hs if h[0] != signing.HEADER], k, v) for hs, k, v in records]
    texts = [({n: raw.decode() for n, raw in hs}, v) for hs, _, v in unsigned]
    some = events[0]
    message = signing.canonical_bytes(encode(some, source="/x").headers, b"{}")
    private = signing.signer(some.service)
    public = private.public_key()
    signature = private.sign(message)
    when, source = datetime.now(UTC), source_of(some.service)

    def each(work: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
        def run() -> None:
            for item in items:
                work(item)

        return run

    runs: dict[str, Callable[[], None]] = {
        "encode sdk": each(sdk_encode, events),
        "encode fast": each(lambda e: encode(e, source=source_of(e.service)), events),
        "decode sdk": each(lambda r: sdk_decode(r[0], r[1], r[2], keys), records),
        "decode fast": each(lambda r: decode(r[0], r[1], r[2], keys=keys), records),
        "write sdk (no signature)": each(
            lambda e: envelope.sdk_binary(e, source=source, event_id="i", time=when), events
        ),
        "write fast (no signature)": each(
            lambda e: envelope.binary(e, source=source, event_id="i", time=when), events
        ),
        "read sdk (no signature)": each(
            lambda r: envelope.sdk_attributes(dict(r[0]), r[1], r[2]), unsigned
        ),
        "read fast (no signature)": each(
            lambda r: envelope.fast_attributes({k: v.decode() for k, v in r[0]}, r[1], r[2]),
            unsigned,
        ),
        "signed bytes rfc8785": each(lambda t: signing.jcs_canonical_bytes(*t), texts),
        "signed bytes fast": each(lambda t: signing.canonical_bytes(*t), texts),
        "ed25519 sign": each(lambda _: private.sign(message), events),
        "ed25519 verify": each(lambda _: public.verify(signature, message), events),
    }
    return best_us(runs, count, rounds)


def report(figures: dict[str, float], out: TextIO) -> dict[str, float]:
    ratios = {
        "encode": figures["encode sdk"] / figures["encode fast"],
        "decode": figures["decode sdk"] / figures["decode fast"],
        "write (no signature)": figures["write sdk (no signature)"]
        / figures["write fast (no signature)"],
        "read (no signature)": figures["read sdk (no signature)"]
        / figures["read fast (no signature)"],
        "signed bytes": figures["signed bytes rfc8785"] / figures["signed bytes fast"],
        "encode without ed25519": (figures["encode sdk"] - figures["ed25519 sign"])
        / max(figures["encode fast"] - figures["ed25519 sign"], 1e-9),
        "decode without ed25519": (figures["decode sdk"] - figures["ed25519 verify"])
        / max(figures["decode fast"] - figures["ed25519 verify"], 1e-9),
    }
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
