"""`python -m examples.partner_lender`: a lender's system on SkillBridge's partner channel."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from examples.partner_lender import signature

log = logging.getLogger("partner_lender")

SHARED = "skillbridge.funding.LoanReferralShared.v1"


def kafka_security(code: str) -> dict[str, Any]:
    """aiokafka's TLS and SASL arguments from the variables SkillBridge's own clients read.

    SkillBridge's operator gives each lender a principal `partner-<code>` allowed to read
    `skillbridge.partner.<code>.v1` only, in consumer groups named `partner-<code>.*`.
    """
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=os.environ.get("KAFKA_SSL_CAFILE"))
        if os.environ.get("KAFKA_SSL_CERTFILE"):
            context.load_cert_chain(
                os.environ["KAFKA_SSL_CERTFILE"], os.environ["KAFKA_SSL_KEYFILE"]
            )
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            sasl_plain_username=os.environ.get("KAFKA_SASL_USERNAME", f"partner-{code}"),
            sasl_plain_password=os.environ["KAFKA_SASL_PASSWORD"],
        )
    return options


CANCELLED = "skillbridge.funding.LoanReferralCancelled.v1"


@dataclass
class Lender:
    code: str
    key: str
    bootstrap: str
    api: str
    min_level: int = 2
    amount: int = 50_000
    decided: dict[str, str] = field(default_factory=dict)  # referral id -> outcome
    cancelled: set[str] = field(default_factory=set)
    # Funding's public key; fetched from its well-known document when not given.
    funding_key: Ed25519PublicKey | None = None
    rejected: int = 0  # records whose signature did not verify: never acted on

    def decide(self, referral: dict[str, Any]) -> dict[str, Any]:
        """This lender's own credit rule: a qualification level it trusts."""
        if int(referral["level"]) >= self.min_level:
            return {"decision": "approved", "amount": self.amount}
        return {"decision": "declined", "reason_code": "outside-policy"}

    async def handle(self, client: httpx.AsyncClient, ce_type: str, data: dict[str, Any]) -> None:
        referral_id = data["referral_id"]
        if ce_type == CANCELLED:
            self.cancelled.add(referral_id)
            log.info("cancelled %s (%s): deleting what we hold", referral_id, data["reason"])
            return
        if ce_type != SHARED or referral_id in self.decided:
            return
        path = f"{self.api}/partner/referrals/{referral_id}"

        async def post(step: str, body: dict[str, Any]) -> dict[str, Any] | None:
            response = await client.post(
                f"{path}/{step}",
                json=body,
                headers={"Idempotency-Key": f"{self.code}-{step}-{referral_id}"},
            )
            if response.status_code == 409:  # cancelled or expired meanwhile: nothing to do
                log.info("%s %s refused: %s", step, referral_id, response.json()["detail"])
                return None
            response.raise_for_status()
            answer: dict[str, Any] = response.json()
            return answer

        if await post("acknowledge", {}) is None:
            return
        decision = self.decide(data)
        if await post("decision", decision) is None:
            return
        outcome = decision["decision"]
        if outcome == "approved":
            paid = {"amount": decision["amount"], "disbursed_on": date.today().isoformat()}
            if await post("disbursement", paid) is not None:
                outcome = "disbursed"
        self.decided[referral_id] = outcome
        log.info("referral %s (level %s): %s", referral_id, data["level"], outcome)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            f"skillbridge.partner.{self.code}.v1",
            bootstrap_servers=self.bootstrap,
            group_id=f"partner-{self.code}.lender",  # the partner's ACLs allow this prefix only
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **kafka_security(self.code),
        )
        if self.funding_key is None:
            self.funding_key = signature.fetch_funding_key(self.api)
        await consumer.start()
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            async with httpx.AsyncClient(headers=headers, timeout=30) as client:
                while not stop.is_set():
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        for record in records:
                            raw = dict(record.headers)
                            if not signature.verify(self.funding_key, raw, record.value or b""):
                                self.rejected += 1  # forged or altered: not from funding
                                log.warning(
                                    "rejected %s@%d: bad signature", record.topic, record.offset
                                )
                                continue
                            data = json.loads(record.value or b"{}")
                            await self.handle(client, raw.get("ce_type", b"").decode(), data)
                    if batch:
                        await consumer.commit()  # after the answers: at-least-once, idempotent
        finally:
            await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lender", required=True, help="lender code, e.g. gsb")
    parser.add_argument("--key", required=True, help="the lender's partner API key")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--api", default="http://127.0.0.1:8004", help="funding service URL")
    parser.add_argument("--min-level", type=int, default=2)
    parser.add_argument("--amount", type=int, default=50_000)
    parser.add_argument(
        "--funding-key",
        help="funding's event-signing public key (base64url); default: fetched from --api",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lender %(message)s")
    lender = Lender(args.lender, args.key, args.bootstrap, args.api, args.min_level, args.amount)
    if args.funding_key:
        lender.funding_key = signature.load_key(args.funding_key)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await lender.run(stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
