"""Where funding may post webhooks: https to public addresses, checked on the URL's literal
address and on what its host resolves to, again before each delivery, and sent to the address
that was checked (issue 12)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from services.funding.handlers import webhook_deliveries
from services.funding.webhooks import Clients, Destinations, forbidden, host_allowed
from shared.errors import DomainError

PUBLIC = "93.184.215.14"


class Dns:
    """A resolver whose answers the test sets (and changes: DNS rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers: Iterator[list[str]] = iter(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answer = next(self._answers)
        if not answer:
            raise OSError("Name or service not known")
        return answer


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fd00::1", "private"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        (PUBLIC, None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_forbidden_names_the_kind_of_address(address: str, kind: str | None) -> None:
    assert forbidden(ipaddress.ip_address(address)) == kind


def test_host_allow_list_takes_names_and_subdomain_wildcards() -> None:
    allowed = ["hooks.gsb.or.th", "*.tcg.example"]
    assert host_allowed("HOOKS.gsb.or.th.", allowed)
    assert host_allowed("a.b.tcg.example", allowed)
    assert not host_allowed("tcg.example", allowed)
    assert not host_allowed("evil-hooks.gsb.or.th", allowed)
    assert not host_allowed("gsb.or.th", allowed)


async def refusal(destinations: Destinations, url: str, lender: str = "gsb") -> str:
    with pytest.raises(DomainError) as caught:
        await destinations.check(lender, url)
    assert caught.value.field == "url" and caught.value.status == 422
    return caught.value.message


async def test_https_public_only_by_default() -> None:
    strict = Destinations(resolve=Dns([PUBLIC], ["10.0.0.7"], [], ["127.0.0.1", PUBLIC]))
    assert "https" in await refusal(strict, f"http://{PUBLIC}/hooks")
    assert "https" in await refusal(strict, "ftp://hooks.example/x")
    assert "loopback" in await refusal(strict, "https://127.0.0.1:8443/hooks")
    assert "loopback" in await refusal(strict, "https://[::1]/hooks")
    assert "link-local" in await refusal(strict, "https://169.254.169.254/latest/meta-data")
    target = await strict.check("gsb", "https://hooks.example/in")  # resolves to PUBLIC
    assert (target.host, str(target.address)) == ("hooks.example", PUBLIC)
    assert "private" in await refusal(strict, "https://intranet.example/in")  # -> 10.0.0.7
    assert "does not resolve" in await refusal(strict, "https://nowhere.invalid/in")
    # Every address the name has must be public, not just the first.
    assert "loopback" in await refusal(strict, "https://split.example/in")


async def test_operator_settings_allow_http_and_private_addresses() -> None:
    relaxed = Destinations(allow_http=True, allow_private=True)
    target = await relaxed.check("gsb", "http://127.0.0.1:9/hooks")
    assert str(target.address) == "127.0.0.1"
    only_private = Destinations(allow_private=True)
    assert "https" in await refusal(only_private, "http://127.0.0.1:9/hooks")


async def test_a_lenders_allow_list_limits_its_hosts() -> None:
    destinations = Destinations(
        allowed_hosts={"gsb": ["hooks.gsb.example"], "smed": []},
        resolve=Dns([PUBLIC], [PUBLIC]),
    )
    assert (await destinations.check("gsb", "https://hooks.gsb.example/in")).host == (
        "hooks.gsb.example"
    )
    assert "allow-list" in await refusal(destinations, "https://other.example/in", "gsb")
    assert "allow-list" in await refusal(destinations, "https://hooks.gsb.example/in", "smed")
    # A lender without a list may use any public host.
    assert (await destinations.check("tcg", "https://other.example/in")).host == "other.example"


async def test_delivery_goes_to_the_checked_address_with_the_hosts_name() -> None:
    seen: list[httpx.Request] = []

    def lender(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    destinations = Destinations(resolve=Dns([PUBLIC]))
    target = await destinations.check("gsb", "https://hooks.example:8443/in?x=1")
    clients = Clients(5.0, transport=httpx.MockTransport(lender))
    response = await target.post(clients, b"{}", {"content-type": "application/json"})
    await clients.aclose()
    assert response.status_code == 204
    [request] = seen
    assert str(request.url) == f"https://{PUBLIC}:8443/in?x=1"
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"  # TLS checks the name


async def test_each_host_has_its_own_connection_pool_over_one_tls_context() -> None:
    """Deliveries dial pinned addresses: two lenders at one address must not share a pooled
    connection whose certificate was checked for the other's name."""
    clients = Clients(5.0)
    gsb, smed = clients.for_host("hooks.gsb.example"), clients.for_host("hooks.smed.example")
    assert gsb is not smed
    assert clients.for_host("HOOKS.GSB.example.") is gsb
    await clients.aclose()
    assert gsb.is_closed and smed.is_closed
    with pytest.raises(RuntimeError):
        clients.for_host("hooks.gsb.example")


async def test_a_name_that_turns_private_after_registration_is_not_posted_to() -> None:
    """DNS rebinding: public when registered, loopback at delivery: refused, nothing sent."""
    dns = Dns([PUBLIC], ["127.0.0.1"])
    destinations = Destinations(resolve=dns)
    await destinations.check("gsb", "https://rebind.example/in")  # registration passes

    def lender(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"posted to {request.url}")

    job = webhook_deliveries._Job(
        "d1", "gsb", "e1", "r1", "type", "{}", 0, "https://rebind.example/in", "whsec_x"
    )
    clients = Clients(5.0, transport=httpx.MockTransport(lender))
    status, error = await webhook_deliveries._send(clients, job, destinations)
    await clients.aclose()
    assert status is None and error is not None
    assert error.startswith("refused:") and "loopback" in error
    assert dns.asked == ["rebind.example", "rebind.example"]
