"""Calls to the funding service's API (docs: README, funding section), for the seeder, demo,
bench and tests. The caller's client carries an operator key (`Authorization: Bearer`)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import httpx

from deploy.clients.base import ApiError, Json, ServiceClient


def sent(rows: Iterable[Json]) -> list[Json]:
    """The referrals lenders were told of (held ones wait for the person's consent)."""
    return [r for r in rows if r["status"] != "held"]


class FundingClient(ServiceClient):
    """Counts, referrals, live products, partner keys and webhooks (no retries: the callers
    poll or run once the service is up)."""

    async def counts(self) -> dict[str, int]:
        body = self.expect(await self.http.get(f"{self.url}/counts"), 200)
        return {k: int(v) for k, v in body.items()}

    async def referrals(self, **params: str) -> list[Json]:
        response = await self.http.get(f"{self.url}/referrals", params=params)
        if response.status_code != 200:
            raise ApiError(
                f"GET {self.url}/referrals -> {response.status_code}: {response.text[:500]}"
            )
        rows: list[Json] = response.json()
        return rows

    async def live_products(self) -> dict[str, Json]:
        """Product code -> its live rule version's rules (products without one are left out)."""
        products = await self.http.get(f"{self.url}/products")
        if products.status_code != 200:
            raise ApiError(
                f"GET {self.url}/products -> {products.status_code}: {products.text[:500]}"
            )
        live = {}
        for product in products.json():
            for version in product["versions"]:
                if version["status"] == "live":
                    live[product["code"]] = version["rules"]
        return live

    async def create_partner_key(self, lender_code: str, name: str) -> str:
        """A key for a lender's own systems (admin only); the token is shown only now."""
        response = await self.http.post(
            f"{self.url}/lenders/{lender_code}/keys", json={"name": name}
        )
        return str(self.expect(response, 201)["token"])

    async def partner_key(self, lender_code: str, name: str) -> Json:
        """A key for a lender's own systems, as created: `token` is shown only now."""
        response = await self.http.post(
            f"{self.url}/lenders/{lender_code}/keys", json={"name": name}
        )
        return self.expect(response, 201)

    async def partner_keys(self, lender_code: str) -> list[Json]:
        response = await self.http.get(f"{self.url}/lenders/{lender_code}/keys")
        self.expect(response, 200)
        return list(response.json())

    async def revoke_partner_key(self, lender_code: str, key_id: str) -> Json:
        response = await self.http.delete(f"{self.url}/lenders/{lender_code}/keys/{key_id}")
        return self.expect(response, 200)

    async def add_webhook(self, lender_code: str, endpoint: str) -> Json:
        """A webhook endpoint for a lender; the answer holds the signing secret (shown once)."""
        response = await self.http.post(
            f"{self.url}/lenders/{lender_code}/webhooks", json={"url": endpoint}
        )
        return self.expect(response, 201)


class PartnerClient(ServiceClient):
    """A lender's systems on the partner API (`/partner/...`), with the lender's `sbp_` key.

    Every write carries an `Idempotency-Key` of `<lender>-<step>-<referral id>` (as the example
    lender does), so a retried step returns the first answer instead of failing."""

    def __init__(
        self, http: httpx.AsyncClient, url: str = "", lender_code: str = "partner"
    ) -> None:
        super().__init__(http, url)
        self.lender_code = lender_code  # prefixes the idempotency keys

    async def referrals(self, status: str | None = None, page: int = 500) -> list[Json]:
        """All the lender's referrals, oldest first (reading one counts as its delivery)."""
        rows: list[Json] = []
        while True:
            params: dict[str, str | int] = {"limit": page, "offset": len(rows)}
            if status:
                params["status"] = status
            response = await self.http.get(f"{self.url}/partner/referrals", params=params)
            if response.status_code != 200:
                raise ApiError(f"GET /partner/referrals: {self.problem(response)}")
            batch: list[Json] = response.json()
            rows += batch
            if len(batch) < page:
                return rows

    async def _step(self, referral_id: str, step: str, body: Json | None) -> Json:
        response = await self.http.post(
            f"{self.url}/partner/referrals/{referral_id}/{step}",
            json=body,
            headers={"Idempotency-Key": f"{self.lender_code}-{step}-{referral_id}"},
        )
        return self.expect(response, 200)

    async def acknowledge(self, referral_id: str) -> Json:
        return await self._step(referral_id, "acknowledge", None)

    async def approve(self, referral_id: str, amount: int) -> Json:
        return await self._step(referral_id, "decision", {"decision": "approved", "amount": amount})

    async def decline(self, referral_id: str, reason_code: str) -> Json:
        body = {"decision": "declined", "reason_code": reason_code}
        return await self._step(referral_id, "decision", body)

    async def disburse(self, referral_id: str, amount: int, on: datetime.date) -> Json:
        body = {"amount": amount, "disbursed_on": on.isoformat()}
        return await self._step(referral_id, "disbursement", body)
