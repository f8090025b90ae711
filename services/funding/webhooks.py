"""Webhook wire format: a CloudEvent in structured JSON, signed as Standard Webhooks do.

Headers: `webhook-id` (the CloudEvent id, the same on every retry), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 over
"<id>.<timestamp>.<body>" with the endpoint's secret>`); the `standardwebhooks` package signs
and verifies (docs/decisions/0012).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cloudevents.core.formats.json import JSONFormat
from standardwebhooks.webhooks import Webhook

from shared.envelope import cloud_event
from shared.errors import DomainError
from shared.events import Event

SECRET_PREFIX = "whsec_"
BODY_CONTENT_TYPE = "application/cloudevents+json"
_FORMAT = JSONFormat()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def structured(event: Event, *, event_id: str, source: str, time: datetime) -> str:
    """The event as one CloudEvent in structured JSON mode (the webhook body)."""
    cloud = cloud_event(event, source=source, event_id=event_id, time=time)
    return _FORMAT.write(cloud).decode()


def signed_headers(secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    timestamp = at.astimezone(UTC)
    return {
        "content-type": BODY_CONTENT_TYPE,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> object:
    """The parsed body if the signature is right (raises WebhookVerificationError if not)."""
    return Webhook(secret).verify(body, headers)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Delay before the next try after `attempts` failed ones: base, 2 base, 4 base, ... cap."""
    return float(min(base * 2 ** max(attempts - 1, 0), cap))


# --- where webhooks may go ----------------------------------------------------------------
# A webhook carries personal data, so funding posts only over HTTPS to a public address:
# never to loopback, private, link-local, multicast, reserved or unspecified ones (the
# service's own network), unless the operator allows it (tests, a lender on the same LAN).
# The host is resolved when the endpoint is registered and again before every delivery, and
# the request goes to the address that was checked (DNS rebinding cannot swap it).

Resolve = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden(address: IPAddress) -> str | None:
    """Why an address is no place for a webhook (None: a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10, shared address space
    ):
        if test:
            return kind
    return None


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """`host` is listed, or is a subdomain of a listed `*.domain`."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


class Clients:
    """HTTP clients for webhook deliveries, one per destination host name, all over one TLS
    context (built once: building one reads and parses the CA bundle). httpx pools
    connections by the address dialled, and deliveries dial pinned addresses, so one shared
    pool could carry lender B's request on a connection whose certificate was checked for
    lender A at the same address."""

    def __init__(self, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout
        self._transport = transport  # tests' stand-in lender
        self._tls = httpx.create_ssl_context()
        self._by_host: dict[str, httpx.AsyncClient] = {}
        self.is_closed = False

    def for_host(self, host: str) -> httpx.AsyncClient:
        if self.is_closed:
            raise RuntimeError("webhook clients are closed")
        key = host.lower().rstrip(".")
        if key not in self._by_host:
            self._by_host[key] = httpx.AsyncClient(
                timeout=self._timeout, verify=self._tls, transport=self._transport
            )
        return self._by_host[key]

    async def aclose(self) -> None:
        self.is_closed = True
        for client in self._by_host.values():
            await client.aclose()
        self._by_host.clear()


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL, and the address the request must go to."""

    url: str
    host: str
    address: IPAddress

    async def post(
        self, clients: Clients, content: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """POST to the checked address, with the host's name in Host and in TLS (SNI and
        certificate check), so a second DNS answer cannot redirect it."""
        client = clients.for_host(self.host)
        url = httpx.URL(self.url)
        if url.host == str(self.address):
            return await client.post(url, content=content, headers=headers)
        return await client.post(
            url.copy_with(host=str(self.address)),
            content=content,
            headers={**headers, "host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": self.host},
        )


@dataclass(frozen=True)
class Destinations:
    allow_http: bool = False
    allow_private: bool = False
    allowed_hosts: Mapping[str, Collection[str]] = field(default_factory=dict)
    resolve: Resolve = resolve
    resolve_timeout: float = 5.0

    async def check(self, lender_code: str, url: str) -> Target:
        """The destination if webhooks may go there; DomainError on `url` saying why not."""
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeDecodeError) as error:
            raise DomainError(f"not a usable URL: {error}", field="url") from error
        if parsed.scheme != "https" and not (parsed.scheme == "http" and self.allow_http):
            raise DomainError(
                f"webhooks must use https (not {parsed.scheme or 'no scheme'})", field="url"
            )
        if not host:
            raise DomainError("the URL has no host", field="url")
        allowed = self.allowed_hosts.get(lender_code)
        if allowed is not None and not host_allowed(host, allowed):
            raise DomainError(
                f"host {host} is not on lender {lender_code}'s allow-list "
                f"({', '.join(sorted(allowed)) or 'empty'})",
                field="url",
            )
        addresses = await self._addresses(
            host, parsed.port or (443 if parsed.scheme == "https" else 80)
        )
        if not self.allow_private:
            for address in addresses:
                why = forbidden(address)
                if why is not None:
                    shown = host if host == str(address) else f"{host} ({address})"
                    raise DomainError(
                        f"webhooks may not go to {shown}: a {why} address", field="url"
                    )
        return Target(url, host, addresses[0])

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            found = await asyncio.wait_for(self.resolve(host, port), self.resolve_timeout)
        except (OSError, TimeoutError) as error:
            raise DomainError(f"host {host} does not resolve ({error})", field="url") from error
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise DomainError(f"host {host} does not resolve", field="url")
        return addresses
