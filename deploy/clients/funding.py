"""Calls to the funding service's API (docs: README, funding section), for the seeder, demo,
bench and tests. The caller's client carries an operator key (`Authorization: Bearer`)."""

from __future__ import annotations

from collections.abc import Iterable

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

    async def add_webhook(self, lender_code: str, endpoint: str) -> Json:
        """A webhook endpoint for a lender; the answer holds the signing secret (shown once)."""
        response = await self.http.post(
            f"{self.url}/lenders/{lender_code}/webhooks", json={"url": endpoint}
        )
        return self.expect(response, 201)
