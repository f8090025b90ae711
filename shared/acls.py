"""Who may do what on the broker: one principal per service and per partner, and the Kafka
ACLs that follow from the event catalogue (docs/decisions/0014).

A service writes the topics of the events it publishes (its broadcast topic, its private
topics; funding also the partner topics) and the dead-letter topics of what it consumes;
it reads the topics of the events it consumes, in consumer groups under its own prefix.
The dashboard publishes nothing: it reads the broadcast topics it consumes (never a private
or partner topic: that is refused here) and writes only their dead-letter topics.
A partner reads its own topic only, in groups under `partner-<code>.`. Nothing else is
granted: the broker must deny what no ACL allows (`allow.everyone.if.no.acl.found=false`).
The operator's `admin` principal is a super user and needs no ACLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from shared.events import CATALOGUE, PARTNER, Event
from shared.topics import SERVICES, dlq_topic, partner_topic

Resource = Literal["TOPIC", "GROUP"]
Pattern = Literal["LITERAL", "PREFIXED"]
# READ and WRITE imply DESCRIBE in Kafka; WRITE on a topic implies IDEMPOTENT_WRITE (KIP-679).
Operation = Literal["READ", "WRITE", "CREATE"]

PARTNER_TOPIC_PREFIX = "skillbridge.partner."
# Services that publish no event of their own: they only read the broadcast topics.
READERS = ("dashboard",)
PRINCIPALS = (*SERVICES, *READERS)


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: `principal` may `operation` on the `resource` named (or prefixed) `name`."""

    principal: str
    resource: Resource
    pattern: Pattern
    name: str
    operation: Operation
    why: str = ""


def service_principal(service: str) -> str:
    if service not in PRINCIPALS:
        raise ValueError(f"unknown service {service!r}; expected one of {PRINCIPALS}")
    return f"User:{service}"


def partner_username(code: str) -> str:
    partner_topic(code)  # validates the code
    return f"partner-{code}"


def partner_principal(code: str) -> str:
    return f"User:{partner_username(code)}"


def partner_group_prefix(code: str) -> str:
    """Consumer groups a partner may use: `partner-<code>.` followed by anything."""
    return f"{partner_username(code)}."


def published_topics(service: str) -> set[str]:
    """The topics of the events `service` publishes (partner topics aside: one per lender)."""
    return {cls.topic() for cls in CATALOGUE if cls.service == service and cls.audience != PARTNER}


def publishes_to_partners(service: str) -> bool:
    return any(cls.service == service and cls.audience == PARTNER for cls in CATALOGUE)


def service_grants(
    service: str, consumes: Iterable[type[Event]], group_prefix: str = "skillbridge"
) -> list[Grant]:
    """`consumes`: the event classes the service's consumer subscribes to (its HANDLERS)."""
    user = service_principal(service)
    consumes = frozenset(consumes)  # read twice below
    if service in READERS and (personal := [c for c in consumes if not c.is_broadcast()]):
        # A read model for every operator must never take in what only one party may see.
        names = ", ".join(sorted(c.__name__ for c in personal))
        raise ValueError(f"{service} reads broadcast topics only; it handles {names}")
    grants: list[Grant] = []
    for topic in sorted(published_topics(service)):
        grants += [
            Grant(user, "TOPIC", "LITERAL", topic, "WRITE", "publishes its events"),
            Grant(user, "TOPIC", "LITERAL", topic, "CREATE", "creates it at start-up if missing"),
            # At start-up it counts what the broker kept, to replay a lost broker's records.
            Grant(user, "TOPIC", "LITERAL", topic, "READ", "counts its records at start-up"),
        ]
    if publishes_to_partners(service):
        for operation in ("WRITE", "CREATE", "READ"):
            grants.append(
                Grant(user, "TOPIC", "PREFIXED", PARTNER_TOPIC_PREFIX, operation, "lenders' topics")
            )
    consumed = sorted({cls.topic() for cls in consumes})
    for topic in consumed:
        grants += [
            Grant(user, "TOPIC", "LITERAL", topic, "READ", "consumes it"),
            # ensure_topics at start-up: the producer may not have started yet.
            Grant(user, "TOPIC", "LITERAL", topic, "CREATE", "creates it at start-up if missing"),
            Grant(user, "TOPIC", "LITERAL", dlq_topic(topic), "WRITE", "dead-letters it"),
            Grant(user, "TOPIC", "LITERAL", dlq_topic(topic), "CREATE", "creates its DLQ"),
        ]
    if consumed:
        grants.append(
            Grant(user, "GROUP", "PREFIXED", f"{group_prefix}.{service}", "READ", "its group")
        )
    return grants


def partner_grants(code: str) -> list[Grant]:
    user = partner_principal(code)
    return [
        Grant(user, "TOPIC", "LITERAL", partner_topic(code), "READ", "its own referrals"),
        Grant(user, "GROUP", "PREFIXED", partner_group_prefix(code), "READ", "its groups"),
    ]


def acl_table(
    consumes: Mapping[str, Iterable[type[Event]]],
    partners: Iterable[str],
    group_prefix: str = "skillbridge",
) -> list[Grant]:
    """Every ACL the system needs, services first, then partners."""
    grants = [
        grant
        for service in PRINCIPALS
        for grant in service_grants(service, consumes.get(service, ()), group_prefix)
    ]
    for code in sorted(set(partners)):
        grants += partner_grants(code)
    return grants


def allowed(
    grants: Iterable[Grant], principal: str, resource: Resource, name: str, operation: Operation
) -> bool:
    """Whether the table lets `principal` do `operation` on `name`, as Kafka's authorizer
    decides for ALLOW ACLs (LITERAL: equal name; PREFIXED: name starts with it)."""
    return any(
        g.principal == principal
        and g.resource == resource
        and g.operation == operation
        and (g.name == name if g.pattern == "LITERAL" else name.startswith(g.name))
        for g in grants
    )
