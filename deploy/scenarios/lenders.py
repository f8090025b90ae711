"""The lenders' side of the demo: each lender works on its referrals through the partner API.

A lender has got to about a fifth of the referrals it was sent (the rest stay open, as on
any working day; acting on all of them would add a minute to the smoke): it acknowledges
those, approves most (with an amount) and declines the rest with a reason code, and disburses
most of what it approved. Which referrals and what outcome are drawn from the seed, the
person's national ID and the product, so they are the same on every run and do not depend on
the order referrals arrive in; the smoke then checks that funding reports exactly these.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from deploy.clients.funding import FundingClient, PartnerClient
from deploy.scenarios.pilot import Scenario

__all__ = ["Decision", "decide_all", "decision", "expected_decisions", "problems"]

SEED = 2026
P_ACTED_ON = 0.2
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


def decision(national_id: str, product_code: str, seed: int = SEED) -> Decision | None:
    """What the lender decides on the referral; None: it has not got to it yet."""
    rng = random.Random(f"{seed}:{national_id}:{product_code}")
    # Every draw for every referral, so the outcome's branches do not shift one another.
    acted_on = rng.random() < P_ACTED_ON
    approved = rng.random() < P_APPROVE
    disbursed = rng.random() < P_DISBURSE_GIVEN_APPROVED
    low, high = AMOUNTS.get(product_code, DEFAULT_AMOUNT)
    amount = rng.randrange(low, high + 1, 1_000)
    reason = rng.choice(REASON_CODES)
    if not acted_on:
        return None
    if approved:
        return Decision(True, amount, None, disbursed)
    return Decision(False, None, reason, False)


def expected_decisions(
    referrals: Iterable[tuple[str, str]], seed: int = SEED
) -> dict[tuple[str, str], Decision]:
    """(national_id, product_code) -> what the lender decides, for each referral it acts on."""
    chosen = {(nid, product): decision(nid, product, seed) for nid, product in referrals}
    return {key: d for key, d in chosen.items() if d is not None}


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
    scenario: Scenario,
    by_id: Mapping[str, str],
    *,
    seed: int = SEED,
    concurrency: int = 8,
) -> Counter[str]:
    """Every lender of the scenario's products, with a partner key of its own, acts on each
    referral it was sent; status -> how many referrals the lenders left in it."""
    national_ids = {pid: nid for nid, pid in by_id.items()}
    lenders = sorted({p.lender_code for p in scenario.products})
    async with FundingClient.connect(funding_url, admin_key, timeout=30) as funding:
        keys = {
            code: await funding.create_partner_key(code, f"demo-{code}-{secrets.token_hex(3)}")
            for code in lenders
        }
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()

    async def one(partner: PartnerClient, referral: Mapping[str, str]) -> None:
        nid = national_ids.get(referral["person_id"])
        if nid is None:  # someone this run did not seed: not the demo's to decide
            return
        chosen = decision(nid, referral["product_code"], seed)
        if chosen is None:
            return
        async with semaphore:
            await _act(partner, referral["referral_id"], chosen)
        outcomes[chosen.status] += 1

    async def lender(code: str) -> None:
        async with PartnerClient.connect(funding_url, keys[code], timeout=30) as partner:
            partner.lender_code = code  # names its idempotency keys
            open_ones = [
                r for r in await partner.referrals() if r["status"] in ("created", "delivered")
            ]
            await asyncio.gather(*(one(partner, r) for r in open_ones))

    await asyncio.gather(*(lender(code) for code in lenders))
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
