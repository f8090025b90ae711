"""Ed25519 signatures on events, so a record is authentic whoever could write to the broker.

What is signed (docs/decisions/0013): the RFC 8785 (JCS) form of the CloudEvent's attributes
as they travel in the headers, plus the SHA-256 of the record value. The signature travels
in the `sb-signature` header (not a `ce_` one: those are CloudEvents attributes):
`ed25519;kid=<service>;sig=<base64url>`.

A consumer verifies with the public key of the service that OWNS the event type in the
catalogue, never with a key the record names or the `ce_source` it claims.

Keys: a service signs with `<PREFIX>_EVENT_SIGNING_KEY` when set, else with
`<EVENT_KEYS_DIR>/<service>.pem`, created with its `.pub` on first use. Public keys come from
`EVENT_PUBLIC_KEYS` (JSON: service -> base64 raw key), else from `<EVENT_KEYS_DIR>/<service>.pub`
(re-read when a key is missing or does not match, so start order does not matter).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

HEADER = "sb-signature"
ALG = "ed25519"
WELL_KNOWN_PATH = "/.well-known/event-signing-key"

# CloudEvents attribute -> the Kafka header it travels in (binary mode).
SIGNED_ATTRIBUTES = {
    "id": "ce_id",
    "source": "ce_source",
    "type": "ce_type",
    "time": "ce_time",
    "subject": "ce_subject",
    "datacontenttype": "content-type",
    "specversion": "ce_specversion",
}

# The headers verification reads (the others, e.g. traceparent, are added at publish time).
READ_HEADERS = frozenset({*SIGNED_ATTRIBUTES.values(), HEADER})


class SignatureError(ValueError):
    """The record is unsigned, forged or signed by a service that does not own its type."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def jcs_canonical_bytes(headers: Mapping[str, str], value: bytes) -> bytes:
    """The bytes that are signed: JCS of the attributes (absent ones null) and the data's hash,
    written by the rfc8785 library (any header value; canonical_bytes' reference)."""
    document: dict[str, str | None] = {
        attribute: headers.get(header) for attribute, header in SIGNED_ATTRIBUTES.items()
    }
    document["data_sha256"] = b64url(hashlib.sha256(value).digest())
    return rfc8785.dumps(document)


# JCS orders members by the UTF-16 code units of their names: fixed names, so a fixed order.
_JCS_NAMES = sorted([*SIGNED_ATTRIBUTES, "data_sha256"], key=lambda n: n.encode("utf-16be"))
_JCS_HEADERS = [SIGNED_ATTRIBUTES.get(name) for name in _JCS_NAMES]  # None: the data's hash
_JCS_TEMPLATE = "{" + ",".join(f'"{name}":"%s"' for name in _JCS_NAMES) + "}"
# Printable ASCII but `"` and `\`: JCS writes such a string as it is, between quotes.
_VERBATIM = re.compile(r"[ !#-\[\]-~]*")


def canonical_bytes(headers: Mapping[str, str], value: bytes) -> bytes:
    """jcs_canonical_bytes, byte for byte, written directly when every attribute is there and
    plain ASCII (always, for what encode writes), at a third of the library's cost."""
    digest = b64url(hashlib.sha256(value).digest())
    texts = [digest if header is None else headers.get(header) for header in _JCS_HEADERS]
    plain = [text for text in texts if type(text) is str]  # exactly str: no str subclass
    if len(plain) == len(texts) and _VERBATIM.fullmatch("".join(plain)):
        return (_JCS_TEMPLATE % tuple(plain)).encode("ascii")
    return jcs_canonical_bytes(headers, value)  # absent (null), escaped or non-ASCII values


def sign_with(key: Ed25519PrivateKey, kid: str, headers: Mapping[str, str], value: bytes) -> str:
    """The `sb-signature` header value for a record signed by `kid` with `key`."""
    signature = key.sign(canonical_bytes(headers, value))
    return f"{ALG};kid={kid};sig={b64url(signature)}"


def parse_header(header: str) -> tuple[str, bytes]:
    """(kid, signature) from an `sb-signature` value; raises SignatureError if malformed."""
    alg, *params = header.strip().split(";")
    if alg.strip().lower() != ALG:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    fields = dict(p.strip().split("=", 1) for p in params if "=" in p)
    kid, sig = fields.get("kid"), fields.get("sig")
    if not kid or not sig:
        raise SignatureError("signature header lacks kid or sig")
    try:
        return kid, _b64decode(sig)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("signature is not base64url") from exc


# --- keys ---------------------------------------------------------------------------------


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A private key given as PEM (PKCS#8), or base64 of the raw 32 bytes or of DER."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        raw = _b64decode(text)
        if len(raw) == 32:
            key = Ed25519PrivateKey.from_private_bytes(raw)
        else:
            key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("event signing key is not an Ed25519 key")
    return key


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as PEM (SubjectPublicKeyInfo) or base64(url) of the raw 32 bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_b64decode(text))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_new(path: Path, data: bytes, mode: int) -> bool:
    """Write `path` atomically only if absent (False if another process won the race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.link(tmp, path)  # fails if it exists: never a half-written or replaced key
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _key_dir_signing_key(service: str, keys_dir: Path) -> Ed25519PrivateKey:
    private_path = keys_dir / f"{service}.pem"
    if not private_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if _write_new(private_path, pem, 0o600):
            log.info("created event signing key %s", private_path)
    key = load_private_key(private_path.read_text())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = keys_dir / f"{service}.pub"
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        tmp = public_path.with_name(f".{public_path.name}.{os.getpid()}")
        tmp.write_bytes(public_pem)
        tmp.chmod(0o644)
        tmp.replace(public_path)
    return key


def signing_key(service: str, settings: ServiceSettings) -> Ed25519PrivateKey:
    """The service's own private key: the explicit setting, else its file (made if absent)."""
    if settings.event_signing_key is not None:
        return load_private_key(settings.event_signing_key.get_secret_value())
    return _key_dir_signing_key(service, settings.event_keys_dir)


# The private key of each service that signs in this process (normally one: the service's).
_SIGNERS: dict[str, Ed25519PrivateKey] = {}


def install(service: str, settings: ServiceSettings) -> Ed25519PrivateKey:
    """Load the service's key and sign its events with it from now on in this process."""
    key = signing_key(service, settings)
    _SIGNERS[service] = key
    return key


def signer(service: str) -> Ed25519PrivateKey:
    """The key that signs `service`'s events here; loaded from the environment on first use
    (tools and tests that publish as a service without running it)."""
    key = _SIGNERS.get(service)
    if key is None:
        key = install(service, ServiceSettings(_env_prefix=f"{service.upper()}_"))
    return key


def sign(service: str, headers: Mapping[str, str], value: bytes) -> str:
    return sign_with(signer(service), service, headers, value)


class PublicKeys:
    """The public keys a consumer verifies with, by owning service."""

    def __init__(self, explicit: Mapping[str, str], keys_dir: Path | None) -> None:
        self._explicit = {name: load_public_key(text) for name, text in explicit.items()}
        self._dir = keys_dir
        self._from_dir: dict[str, Ed25519PublicKey] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> PublicKeys:
        return cls(settings.event_public_keys, settings.event_keys_dir)

    def _read_dir(self, service: str) -> Ed25519PublicKey | None:
        if self._dir is None:
            return None
        try:
            key = load_public_key((self._dir / f"{service}.pub").read_text())
        except (OSError, ValueError):
            return None
        self._from_dir[service] = key
        return key

    def get(self, service: str) -> Ed25519PublicKey | None:
        """An explicit key, else the cached or newly written file; never one made in-process."""
        return self._explicit.get(service) or self._from_dir.get(service) or self._read_dir(service)

    def verify(self, headers: Mapping[str, str], value: bytes, owner: str) -> None:
        """Raise SignatureError unless `owner`'s key signed exactly these attributes and data."""
        header = headers.get(HEADER)
        if not header:
            raise SignatureError(f"unsigned record: no {HEADER} header")
        kid, signature = parse_header(header)
        if kid != owner:
            raise SignatureError(
                f"signed by {kid!r}, but {headers.get('ce_type')!r} is owned by {owner!r}"
            )
        key = self.get(owner)
        if key is None:
            raise SignatureError(f"no public key known for {owner!r}")
        message = canonical_bytes(headers, value)
        if _valid(key, signature, message):
            return
        if owner not in self._explicit:  # the file may have been replaced since it was read
            fresh = self._read_dir(owner)
            changed = fresh is not None and raw_public(fresh) != raw_public(key)
            if changed and fresh is not None and _valid(fresh, signature, message):
                return
        raise SignatureError(f"bad signature: not made by {owner!r}'s key over this record")


def _valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def public_document(service: str, key: Ed25519PrivateKey) -> dict[str, object]:
    """What `GET /.well-known/event-signing-key` answers: the key as base64url and as a JWK."""
    x = b64url(raw_public(key.public_key()))
    return {
        "kid": service,
        "alg": "EdDSA",
        "crv": "Ed25519",
        "header": HEADER,
        "public_key": x,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": service, "use": "sig"},
    }


def deployment_keys(services: Iterable[str]) -> dict[str, str]:
    """Fresh keys for a deployment's Secret: `<SERVICE>_EVENT_SIGNING_KEY` for each service
    (base64 of the raw private key: give each only to its own service) and `EVENT_PUBLIC_KEYS`."""
    values: dict[str, str] = {}
    public: dict[str, str] = {}
    for service in services:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        values[f"{service.upper()}_EVENT_SIGNING_KEY"] = base64.b64encode(raw).decode()
        public[service] = base64.b64encode(raw_public(key.public_key())).decode()
    values["EVENT_PUBLIC_KEYS"] = json.dumps(public, separators=(",", ":"))
    return values


if __name__ == "__main__":  # python -m shared.signing > event-keys.env (then into the Secret)
    from shared.topics import SERVICES

    for name, value in deployment_keys(SERVICES).items():
        print(f"{name}={value}")
