"""Forged events on the real broker: a plain Kafka client that can write to a topic still
cannot make funding act (docs/decisions/0013). And event types funding does not know are
skipped and counted, not dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.stack.topics import read_topics
from examples.partner_lender import signature as partner
from shared import signing
from shared.envelope import encode
from shared.events import AssessmentFailed, LoanReferralShared, QualificationAwarded
from shared.topics import CERTIFICATION, dlq_topic, partner_topic
from tests.support import eventually, ok
from tests.support.funding import RunningFunding, award, person

Headers = dict[str, str]


async def _publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, Headers]]) -> None:
    """A plain client, as anyone who can reach an open broker has."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.client.add_topic(topic)  # docs/decisions/0006
        for key, value, headers in records:
            await producer.send_and_wait(
                topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
    finally:
        await producer.stop()


def _forged_awards(event: QualificationAwarded) -> dict[str, tuple[bytes, bytes, Headers]]:
    """Well-formed QualificationAwarded records for one person that certification never signed."""
    record = encode(event, source="/skillbridge/certification")
    unsigned = {k: v for k, v in record.headers.items() if k != signing.HEADER}

    def variant(
        ce_id: str, sign: Ed25519PrivateKey | None, kid: str
    ) -> tuple[bytes, bytes, Headers]:
        headers = {**unsigned, "ce_id": ce_id}
        if sign is not None:
            headers[signing.HEADER] = signing.sign_with(sign, kid, headers, record.value)
        return record.key, record.value, headers

    registry = signing.signer("registry")  # a real service's real key, but not the owner's
    return {
        "unsigned": variant(f"forged-unsigned-{uuid.uuid4()}", None, ""),
        "unknown key": variant(
            f"forged-stranger-{uuid.uuid4()}", Ed25519PrivateKey.generate(), "certification"
        ),
        "registry's key": variant(f"forged-registry-{uuid.uuid4()}", registry, "registry"),
        "registry posing": variant(f"forged-posing-{uuid.uuid4()}", registry, "certification"),
    }


async def _raw_records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now on `topic`, value and headers as they travel."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord[bytes, bytes]] = []
        for tp in partitions:
            while await consumer.position(tp) < end[tp]:
                for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    found.extend(r for r in records if r.offset < end[tp])
        return found
    finally:
        await consumer.stop()


async def test_forged_awards_make_no_referral_and_are_dead_lettered(
    funding: RunningFunding, bootstrap: str
) -> None:
    up = funding.upstream
    victim = await person(up, consent=[None], occupation=None)  # genuine registry facts
    control = await person(up, consent=[None], occupation=None)
    forged = _forged_awards(award(victim, "housekeeper", 1))
    await _publish(bootstrap, CERTIFICATION, list(forged.values()))
    await up.send(award(control, "housekeeper", 1))  # signed by certification's key

    # The genuine award works, so the consumer is live and past the same topic...
    await eventually(
        lambda: funding.referrals(person_id=control.person_id),
        lambda rows: [r["product_code"] for r in rows] == ["gsb-occupation-loan"],
        what="control referral",
    )
    # ...and every forged record was looked at and refused: it is on the dead-letter topic.
    ids = {headers["ce_id"]: name for name, (_, _, headers) in forged.items()}
    dead = await eventually(
        lambda: read_topics(bootstrap, [dlq_topic(CERTIFICATION)]),
        lambda found: {r.ce_id for r in found} >= ids.keys(),
        what="forged awards dead-lettered",
    )
    errors = {ids[r.ce_id]: r.headers["dlq_error"] for r in dead if r.ce_id in ids}
    assert "unsigned record" in errors["unsigned"]
    assert "bad signature" in errors["unknown key"]
    assert "signed by 'registry'" in errors["registry's key"]
    assert "owned by 'certification'" in errors["registry's key"]
    assert "bad signature" in errors["registry posing"]
    assert {r.headers["dlq_error_type"] for r in dead if r.ce_id in ids} == {"PoisonMessage"}
    assert await funding.referrals(person_id=victim.person_id) == []

    # The victim could be referred: a genuine award for them does it (absence was the
    # signature's doing, not a missing consent).
    await up.send(award(victim, "housekeeper", 1))
    await eventually(
        lambda: funding.referrals(person_id=victim.person_id),
        lambda rows: len(rows) == 1,
        what="victim's genuine referral",
    )


async def test_a_partner_verifies_funding_records_with_the_published_key(
    funding: RunningFunding, bootstrap: str
) -> None:
    up = funding.upstream
    someone = await person(up, consent=["gsb"], categories=["contact"], occupation=None)
    await up.send(award(someone, "housekeeper", 1))
    document = ok(await funding.client.get(signing.WELL_KNOWN_PATH), 200)
    assert document["kid"] == "funding" and document["jwk"]["kty"] == "OKP"
    key = partner.load_key(document["public_key"])
    topic = partner_topic("gsb")
    records = await eventually(
        lambda: _raw_records(bootstrap, topic),
        lambda found: any(
            dict(r.headers).get("ce_type") == LoanReferralShared.ce_type().encode() for r in found
        ),
        what="referral shared with gsb",
    )
    for record in records:
        headers = dict(record.headers)
        assert partner.verify(key, headers, record.value or b"")
        assert not partner.verify(key, headers, (record.value or b"") + b" ")
    shared = encode(award(someone, "housekeeper", 1), source="/skillbridge/funding")
    assert not partner.verify(  # another service's genuine record is not funding's
        key, {k: v.encode() for k, v in shared.headers.items()}, shared.value
    )


async def test_unknown_event_types_are_skipped_and_counted_per_type(
    funding: RunningFunding, bootstrap: str
) -> None:
    up = funding.upstream
    someone = await person(up, consent=[None], occupation=None)
    known = encode(award(someone, "housekeeper", 1), source="/skillbridge/certification")

    def typed(ce_type: str) -> tuple[bytes, bytes, Headers]:
        headers = {**known.headers, "ce_type": ce_type, "ce_id": str(uuid.uuid4())}
        return known.key, known.value, headers

    future = "skillbridge.certification.QualificationAwarded.v2"
    made_up = "skillbridge.certification.SomethingNew.v1"
    failed = encode(
        AssessmentFailed(
            person_id=someone.person_id,
            assessment_id=str(uuid.uuid4()),
            occupation="housekeeper",
            level=1,
            assessed_at=datetime.now(UTC),
        ),
        source="/skillbridge/certification",
    )
    # One key, so one partition: the genuine award after them shows they were all passed.
    await _publish(
        bootstrap,
        CERTIFICATION,
        [
            typed(future),
            typed(made_up),
            typed(future),
            (failed.key, failed.value, failed.headers),  # in the catalogue, not funding's
        ],
    )
    await up.send(award(someone, "housekeeper", 1))
    await eventually(
        lambda: funding.referrals(person_id=someone.person_id),
        lambda rows: len(rows) == 1,
        what="the award after the unknown types applied",
    )
    stats = ok(await funding.client.get("/stats"), 200)
    assert stats["unknown_types_skipped"] == {future: 2, made_up: 1}
    assert stats["dead_lettered"] == 0  # skipped, not poison
