"""The lenders' side of the demo: each lender works on its referrals through the partner API.

Each lender has got to a few of the referrals it was sent (`PER_LENDER`; the rest stay open,
as on any working day, and the smoke stays quick: a partner write costs tens of milliseconds):
it acknowledges those, approves most (with an amount) and declines the rest with a reason
code, and disburses most of what it approved. Which referrals and what outcome follow from
the seed, the person's national ID and the product, so they are the same on every run and do
not depend on the order referrals arrive in; the smoke then checks that funding reports
exactly these.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import random
import secrets
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from deploy.clients.funding import FundingClient, PartnerClient
from deploy.scenarios.pilot import Scenario, expected_referrals

__all__ = ["Decision", "decide_all", "decision", "expected_decisions", "problems"]

SEED = 2026
PER_LENDER = 15
P_APPROVE = 0.8
P_DISBURSE_GIVEN_APPROVED = 0.85
# The partner API's reason codes (docs/funding.md), less "other" and "applicant-withdrew",
# which a lender's credit check would not give.
REASON_CODES = (
    "insufficient-income",
    "existing-debt",
    "incomplete-documents",
    "not-reachable",
    "outside-policy",
)
# Approved amounts per product, THB, in steps of 1,000 (demo assumptions, not from sources).
AMOUNTS: dict[str, tuple[int, int]] = {
    "village-fund-community-loan": (5_000, 30_000),
    "gsb-occupation-loan": (20_000, 100_000),
    "gsb-beautician-suphanburi": (30_000, 150_000),
    "smed-startup-loan": (50_000, 300_000),
    "tcg-micro-guarantee": (20_000, 200_000),
}
DEFAULT_AMOUNT = (10_000, 50_000)


@dataclass(frozen=True)
class Decision:
    approved: bool
    amount: int | None  # approved (and, when disbursed, paid out in full)
    reason_code: str | None  # when declined
    disbursed: bool

    @property
    def status(self) -> str:
        """The referral's status once the lender has acted."""
        if self.disbursed:
            return "disbursed"
        return "approved" if self.approved else "declined"


def decision(national_id: str, product_code: str, seed: int = SEED) -> Decision:
    """What the lender decides on the referral of this person to this product."""
    rng = random.Random(f"{seed}:{national_id}:{product_code}")
    # Every draw for every referral, so the outcome's branches do not shift one another.
    approved = rng.random() < P_APPROVE
    disbursed = rng.random() < P_DISBURSE_GIVEN_APPROVED
    low, high = AMOUNTS.get(product_code, DEFAULT_AMOUNT)
    amount = rng.randrange(low, high + 1, 1_000)
    reason = rng.choice(REASON_CODES)
    if approved:
        return Decision(True, amount, None, disbursed)
    return Decision(False, None, reason, False)


def _turn(seed: int, national_id: str, product_code: str) -> str:
    """Where the referral comes in a lender's (arbitrary but fixed) working order."""
    return hashlib.sha256(f"{seed}:{national_id}:{product_code}".encode()).hexdigest()


def expected_decisions(
    scenario: Scenario, seed: int = SEED, per_lender: int = PER_LENDER
) -> dict[tuple[str, str], Decision]:
    """(national_id, product_code) -> the decision, for the referrals each lender gets to: the
    first `per_lender` of its expected referrals in its working order."""
    lender_of = {p.product_code: p.lender_code for p in scenario.products}
    queues: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for nid, product in expected_referrals(scenario):
        queues[lender_of[product]].append((nid, product))
    return {
        (nid, product): decision(nid, product, seed)
        for queue in queues.values()
        for nid, product in sorted(queue, key=lambda r: _turn(seed, *r))[:per_lender]
    }


async def _act(partner: PartnerClient, referral_id: str, chosen: Decision) -> None:
    await partner.acknowledge(referral_id)
    if not chosen.approved:
        assert chosen.reason_code is not None
        await partner.decline(referral_id, chosen.reason_code)
        return
    assert chosen.amount is not None
    await partner.approve(referral_id, chosen.amount)
    if chosen.disbursed:
        await partner.disburse(referral_id, chosen.amount, datetime.date.today())


async def decide_all(
    funding_url: str,
    admin_key: str,
    by_id: Mapping[str, str],
    decided: Mapping[tuple[str, str], Decision],
    *,
    concurrency: int = 16,
) -> Counter[str]:
    """Each lender with a decided referral, with a partner key of its own, acts on those
    referrals; status -> how many referrals the lenders left in it. The referral ids come from
    the operator's listing: a partner's listing would also deliver every referral it shows."""
    national_ids = {pid: nid for nid, pid in by_id.items()}
    async with FundingClient.connect(funding_url, admin_key, timeout=30) as funding:
        rows = [
            r
            for r in await funding.referrals(limit="100000")
            if r["status"] in ("created", "delivered")
            and (national_ids.get(r["person_id"]), r["product_code"]) in decided
        ]
        codes = sorted({r["lender_code"] for r in rows})
        keys = {
            code: await funding.create_partner_key(code, f"demo-{code}-{secrets.token_hex(3)}")
            for code in codes
        }
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()

    async def one(partner: PartnerClient, referral: Mapping[str, str]) -> None:
        chosen = decided[national_ids[referral["person_id"]], referral["product_code"]]
        async with semaphore:
            await _act(partner, referral["referral_id"], chosen)
        outcomes[chosen.status] += 1

    async def lender(code: str) -> None:
        async with PartnerClient.connect(funding_url, keys[code], timeout=30) as partner:
            partner.lender_code = code  # names its idempotency keys
            await asyncio.gather(*(one(partner, r) for r in rows if r["lender_code"] == code))

    await asyncio.gather(*(lender(code) for code in codes))
    return outcomes


async def problems(
    funding_url: str,
    admin_key: str,
    by_id: Mapping[str, str],
    expected: Mapping[tuple[str, str], Decision],
) -> list[str]:
    """Where funding's own record of the referrals differs from the decisions made."""
    async with FundingClient.connect(funding_url, admin_key, timeout=30) as funding:
        rows = await funding.referrals(limit="100000")
    found = {(r["person_id"], r["product_code"]): r for r in rows if r["status"] != "held"}
    out: list[str] = []
    for (nid, product), chosen in sorted(expected.items()):
        row = found.get((by_id[nid], product))
        if row is None:
            out.append(f"no referral of {by_id[nid]} to {product} to decide")
            continue
        got = (
            row["status"],
            row["approved_amount"],
            row["decline_reason"],
            row["disbursed_amount"],
        )
        want = (
            chosen.status,
            chosen.amount,
            chosen.reason_code,
            chosen.amount if chosen.disbursed else None,
        )
        if got != want:
            out.append(f"referral {row['referral_id']} ({product}): expected {want}, got {got}")
    return out[:5] + ([f"... {len(out) - 5} more"] if len(out) > 5 else [])
