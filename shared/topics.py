"""Topic names: one per producing service and major version, one per partner (ARCHITECTURE.md)."""

from __future__ import annotations

import re

SERVICES = ("registry", "training", "certification", "funding")

_PARTNER_CODE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


def service_topic(service: str, major: int = 1) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {SERVICES}")
    return f"skillbridge.{service}.v{major}"


def partner_topic(partner_code: str, major: int = 1) -> str:
    if not _PARTNER_CODE.match(partner_code):
        raise ValueError(f"partner code {partner_code!r} must match {_PARTNER_CODE.pattern}")
    return f"skillbridge.partner.{partner_code}.v{major}"


def private_topic(producer: str, audience: str, major: int = 1) -> str:
    """A topic only `audience` may read (ACL on the `skillbridge.private.` prefix): for
    personal data one service hands another, never broadcast (docs/decisions/0010)."""
    if producer not in SERVICES or audience not in SERVICES:
        raise ValueError(f"unknown service in {producer!r} -> {audience!r}")
    return f"skillbridge.private.{producer}-to-{audience}.v{major}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


REGISTRY = service_topic("registry")
TRAINING = service_topic("training")
CERTIFICATION = service_topic("certification")
FUNDING = service_topic("funding")
BROADCAST_TOPICS = (REGISTRY, TRAINING, CERTIFICATION, FUNDING)
