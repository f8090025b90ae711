"""Calls to the funding service's API (docs: README, funding section), for the seeder, demo,
bench and tests. The caller's client carries an operator key (`Authorization: Bearer`)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from deploy.clients.base import ApiError, Json, expect


async def counts(client: httpx.AsyncClient, url: str) -> dict[str, int]:
    body = expect(await client.get(f"{url}/counts"), 200)
    return {k: int(v) for k, v in body.items()}


async def referrals(client: httpx.AsyncClient, url: str, **params: str) -> list[Json]:
    response = await client.get(f"{url}/referrals", params=params)
    if response.status_code != 200:
        raise ApiError(f"GET {url}/referrals -> {response.status_code}: {response.text[:500]}")
    rows: list[Json] = response.json()
    return rows


def sent(rows: Iterable[Json]) -> list[Json]:
    """The referrals lenders were told of (held ones wait for the person's consent)."""
    return [r for r in rows if r["status"] != "held"]


async def live_products(client: httpx.AsyncClient, url: str) -> dict[str, Json]:
    """Product code -> its live rule version's rules (products without one are left out)."""
    products = await client.get(f"{url}/products")
    if products.status_code != 200:
        raise ApiError(f"GET {url}/products -> {products.status_code}: {products.text[:500]}")
    live = {}
    for product in products.json():
        for version in product["versions"]:
            if version["status"] == "live":
                live[product["code"]] = version["rules"]
    return live


async def create_partner_key(
    client: httpx.AsyncClient, url: str, lender_code: str, name: str
) -> str:
    """A key for a lender's own systems (admin only); the token is shown only now."""
    body = expect(await client.post(f"{url}/lenders/{lender_code}/keys", json={"name": name}), 201)
    return str(body["token"])


async def add_webhook(client: httpx.AsyncClient, url: str, lender_code: str, endpoint: str) -> Json:
    """A webhook endpoint for a lender; the answer holds the signing secret (shown once)."""
    return expect(
        await client.post(f"{url}/lenders/{lender_code}/webhooks", json={"url": endpoint}), 201
    )
