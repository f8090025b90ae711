"""Webhook endpoints through the operator API with funding's default (strict) settings: a
422 naming `url` for each kind of destination refused, 201 for a public https one, and a
lender's allow-list of hosts (issue 12)."""

from __future__ import annotations

from tests.support import error_fields, ok
from tests.support.funding import RunningFunding

# What settings_for gives, with one lender limited to its own hosts (an address here, as the
# test machine resolves no public names).
FUNDING_SETTINGS = {"webhook_allowed_hosts": {"tcg": ["93.184.215.14", "*.tcg.example"]}}


REFUSED = [
    ("http://93.184.215.14/hooks", "https"),
    ("https://127.0.0.1:8443/hooks", "loopback"),
    ("https://localhost/hooks", "loopback"),
    ("https://[::1]/hooks", "loopback"),
    ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("https://10.20.30.40/hooks", "private"),
    ("https://192.168.1.5/hooks", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://224.0.0.1/hooks", "multicast"),
    ("https://0.0.0.0/hooks", "unspecified"),
    ("https://240.0.0.1/hooks", "reserved"),
    ("https://100.64.0.1/hooks", "non-public"),
    ("https://nowhere.invalid/hooks", "does not resolve"),
]


async def test_refused_destinations(funding: RunningFunding) -> None:
    # One service for all (a broker and a service per case would take a minute and a half).
    for url, reason in REFUSED:
        response = await funding.client.post("/lenders/gsb/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert error_fields(response.json()) == ["url"], url
        assert reason in response.text, (url, response.text)
    assert ok(await funding.client.get("/lenders/gsb/webhooks"), 200) == []


async def test_public_https_and_the_allow_list(funding: RunningFunding) -> None:
    client = funding.client
    created = ok(
        await client.post("/lenders/gsb/webhooks", json={"url": "https://93.184.215.14/in"}), 201
    )
    assert created["url"] == "https://93.184.215.14/in"
    # tcg may use only its listed hosts.
    ok(await client.post("/lenders/tcg/webhooks", json={"url": "https://93.184.215.14/tcg"}), 201)
    refused = await client.post("/lenders/tcg/webhooks", json={"url": "https://93.184.215.15/"})
    assert refused.status_code == 422 and error_fields(refused.json()) == ["url"]
    assert "allow-list" in refused.text
    assert [e["url"] for e in ok(await client.get("/lenders/tcg/webhooks"), 200)] == [
        "https://93.184.215.14/tcg"
    ]
