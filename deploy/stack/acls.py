"""`skillbridge acls apply`: the ACL table of shared/acls.py, applied through the Kafka admin
API as the operator's super user (docs/decisions/0014).

The services' consumed events come from their own handler tables, the same ones their
consumers subscribe with, so a new handler cannot drift from its ACL. aiokafka has no
CreateAcls, so this uses confluent-kafka's admin client (librdkafka, same TLS/SASL settings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

from shared.acls import Grant, acl_table
from shared.events import Event
from shared.kafka import librdkafka_config

CATALOGUE_FILE = Path(__file__).parents[2] / "services" / "funding" / "data" / "catalogue.json"


def consumed_events() -> dict[str, frozenset[type[Event]]]:
    """Each service's subscribed event classes, from its HANDLERS (registry consumes none)."""
    from services.certification.consumers import HANDLERS as certification
    from services.dashboard.consumers import HANDLERS as dashboard
    from services.funding.consumers import HANDLERS as funding
    from services.training.consumers import HANDLERS as training

    return {
        "registry": frozenset(),
        "training": frozenset(training),
        "certification": frozenset(certification),
        "funding": frozenset(funding),
        "dashboard": frozenset(dashboard),
    }


def seeded_partners() -> list[str]:
    """The lenders funding installs at start-up (its seed catalogue): the default partners."""
    data = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return sorted(lender["code"] for lender in data["lenders"])


def table(partners: Iterable[str] | None = None, group_prefix: str = "skillbridge") -> list[Grant]:
    return acl_table(
        consumed_events(),
        seeded_partners() if partners is None else partners,
        group_prefix,
    )


# The embedded broker's default cluster id (deploy/stack/launcher.py starts it with the default).
TANSU_CLUSTER_ID = "tansu_cluster"


class AclAdmin(Protocol):
    """The part of confluent_kafka.admin.AdminClient used here (a stub in unit tests)."""

    def list_topics(self, *args: Any, **kwargs: Any) -> Any: ...

    def create_acls(self, acls: list[Any], **kwargs: Any) -> Mapping[Any, Any]: ...


def bindings(grants: Iterable[Grant]) -> list[Any]:
    # Public names that confluent-kafka's __init__ re-exports without `__all__`.
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return [
        AclBinding(
            ResourceType[g.resource],
            g.name,
            ResourcePatternType[g.pattern],
            g.principal,
            "*",
            AclOperation[g.operation],
            AclPermissionType.ALLOW,
        )
        for g in grants
    ]


def admin_client(bootstrap: str) -> AclAdmin:
    from confluent_kafka.admin import AdminClient

    return cast(AclAdmin, AdminClient({"bootstrap.servers": bootstrap, **librdkafka_config()}))


def apply(grants: list[Grant], admin: AclAdmin, timeout: float = 30) -> int:
    """Create every ACL (CreateAcls is idempotent: an existing binding is not doubled).
    Raises if the broker refuses any (listing them all); returns how many were applied."""
    if admin.list_topics(timeout=timeout).cluster_id == TANSU_CLUSTER_ID:
        # Tansu answers CreateAcls with an empty response that aborts librdkafka, and
        # enforces nothing anyway (docs/decisions/0014).
        raise RuntimeError(
            "this is the embedded Tansu broker: it has no ACLs (docs/decisions/0014); "
            "apply them to a Kafka cluster"
        )
    futures = admin.create_acls(bindings(grants), request_timeout=timeout)
    failed = []
    for binding, future in futures.items():
        try:
            future.result()
        except Exception as error:  # KafkaException: keep going, report them all
            failed.append(f"{binding}: {error}")
    if failed:
        raise RuntimeError("the broker refused ACLs:\n  " + "\n  ".join(failed))
    return len(futures)
