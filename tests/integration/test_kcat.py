"""What a partner sees with an outside client: kcat (librdkafka, not our aiokafka) reads a
lender's topic from the embedded broker, CloudEvents headers included (deploy/stack/kcat.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from deploy.stack.kcat import command
from shared.envelope import encode
from shared.events import LoanReferralShared, SharedPersonalData
from shared.kafka import ensure_topics
from shared.topics import partner_topic

pytestmark = pytest.mark.skipif(
    shutil.which("kcat") is None, reason="kcat is not installed (Debian: apt-get install kcat)"
)


async def test_kcat_reads_a_partner_topic_with_its_cloudevents_headers(
    bootstrap: str, tmp_path: Path
) -> None:
    topic = partner_topic(f"kcat-{uuid.uuid4().hex[:8]}")
    person = str(uuid.uuid4())
    event = LoanReferralShared(
        person_id=person,
        referral_id=str(uuid.uuid4()),
        lender_code="gsb",
        product_code="gsb-occupation-loan",
        occupation="housekeeper",
        level=1,
        certificate_number="SB-2026-0A1B2C3D4E",
        valid_until=date(2029, 11, 27),
        matched_clauses=["level 1 >= 1"],
        applicant=SharedPersonalData(categories=["contact"], phone="0812345678"),
        shared_at=datetime.now(UTC),
    )
    record = encode(event, source="/skillbridge/funding")
    await ensure_topics(bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            record.value,
            key=record.key,
            headers=[(k, v.encode()) for k, v in record.headers.items()],
        )
    finally:
        await producer.stop()

    argv, env = command(["-C", "-b", bootstrap, "-t", topic, "-J", "-e", "-q"], tmp_path)
    kcat = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(kcat.communicate(), timeout=60)
    assert kcat.returncode == 0, err.decode()
    [line] = [json.loads(row) for row in out.decode().splitlines() if row.strip()]
    headers = dict(zip(line["headers"][::2], line["headers"][1::2], strict=True))
    assert line["key"] == person
    assert headers["ce_type"] == LoanReferralShared.ce_type()
    assert headers["ce_id"] == record.headers["ce_id"]
    assert json.loads(line["payload"])["applicant"]["phone"] == "0812345678"
