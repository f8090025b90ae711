"""Verifying funding's signature on a partner-topic record, as a lender writes it.

Standalone on purpose (a lender has none of SkillBridge's code): `cryptography` and
`rfc8785` only. The format is docs/decisions/0013-signed-events.md.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEADER = "sb-signature"
SIGNER = "funding"  # every event on a partner topic is funding's
ATTRIBUTES = {
    "id": "ce_id",
    "source": "ce_source",
    "type": "ce_type",
    "time": "ce_time",
    "subject": "ce_subject",
    "datacontenttype": "content-type",
    "specversion": "ce_specversion",
}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(text: str) -> Ed25519PublicKey:
    """A public key given as base64url of its raw 32 bytes (as the document's `public_key`)."""
    return Ed25519PublicKey.from_public_bytes(_unb64url(text.strip()))


def fetch_funding_key(api: str) -> Ed25519PublicKey:
    """Funding's public key from its well-known document (or take it from your settings)."""
    response = httpx.get(f"{api}/.well-known/event-signing-key", timeout=10)
    response.raise_for_status()
    return load_key(response.json()["public_key"])


def verify(key: Ed25519PublicKey, headers: dict[str, bytes], value: bytes) -> bool:
    """True when funding signed exactly these CloudEvents attributes and this record value."""
    try:
        parts = headers.get(HEADER, b"").decode().split(";")
        fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if parts[0] != "ed25519" or fields.get("kid") != SIGNER or "sig" not in fields:
            return False
        document: dict[str, str | None] = {
            name: headers[header].decode() if header in headers else None
            for name, header in ATTRIBUTES.items()
        }
        document["data_sha256"] = _b64url(hashlib.sha256(value).digest())
        key.verify(_unb64url(fields["sig"]), rfc8785.dumps(document))
    except (InvalidSignature, ValueError):  # ValueError: bad base64 or UTF-8
        return False
    return True
