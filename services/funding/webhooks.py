"""Webhook wire format: a CloudEvent in structured JSON, signed as Standard Webhooks do.

Headers: `webhook-id` (the CloudEvent id, the same on every retry), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 over
"<id>.<timestamp>.<body>" with the endpoint's secret>`); the `standardwebhooks` package signs
and verifies (docs/decisions/0012).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks.webhooks import Webhook

from shared.envelope import CONTENT_TYPE
from shared.events import Event

SECRET_PREFIX = "whsec_"
BODY_CONTENT_TYPE = "application/cloudevents+json"
_FORMAT = JSONFormat()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def structured(event: Event, *, event_id: str, source: str, time: datetime) -> str:
    """The event as one CloudEvent in structured JSON mode (the webhook body)."""
    attributes = {
        "id": event_id,
        "source": source,
        "type": event.ce_type(),
        "time": time,
        "subject": event.key(),
        "datacontenttype": CONTENT_TYPE,
    }
    return _FORMAT.write(CloudEvent(attributes, event.model_dump(mode="json"))).decode()


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
