"""Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite (W3C vc-di-eddsa), and
Ed25519 keys as Multikey (`z6Mk...`). Pure: no I/O.

Proof: JCS (RFC 8785) of the proof options (with the document's @context) and of the
document without its proof; SHA-256 of each; sign proofConfigHash || documentHash with
Ed25519; the signature travels multibase base58btc (`z...`) in `proofValue`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
# Multicodec prefix of an Ed25519 public key (0xed, as an unsigned varint).
_ED25519_PUB = b"\xed\x01"

Json = dict[str, Any]


def multibase_b58(data: bytes) -> str:
    return "z" + base58.b58encode(data).decode()


def from_multibase_b58(text: str) -> bytes:
    if not text.startswith("z"):
        raise ValueError("expected multibase base58btc ('z...')")
    return base58.b58decode(text[1:])


def multikey(public: bytes) -> str:
    """The Multikey `publicKeyMultibase` of a raw 32-byte Ed25519 public key."""
    return multibase_b58(_ED25519_PUB + public)


def public_key_of(multikey_value: str) -> bytes:
    """The raw 32-byte Ed25519 public key in a Multikey `publicKeyMultibase`."""
    data = from_multibase_b58(multikey_value)
    if not data.startswith(_ED25519_PUB) or len(data) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return data[2:]


@dataclass(frozen=True)
class Key:
    """An Ed25519 key pair; `key_id` names it in the DID document (`<did>#<key_id>`)."""

    key_id: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Key:
        private = Ed25519PrivateKey.generate()
        return cls(key_id=key_id_of(raw_public(private)), private=private)

    @classmethod
    def from_pem(cls, pem: bytes) -> Key:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key (PKCS#8 PEM)")
        return cls(key_id=key_id_of(raw_public(private)), private=private)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public(self) -> bytes:
        return raw_public(self.private)


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def key_id_of(public: bytes) -> str:
    # Short, stable and derived from the key: the same key always gets the same id.
    return "key-" + hashlib.sha256(public).hexdigest()[:16]


def _hash_data(document: Json, options: Json) -> bytes:
    config = dict(options)
    if "@context" in document:
        config["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(rfc8785.dumps(config)).digest()
        + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    )


def sign(document: Json, key: Key, verification_method: str, created: datetime) -> Json:
    """The document with an `eddsa-jcs-2022` DataIntegrityProof added."""
    options: Json = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    signature = key.private.sign(_hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": multibase_b58(signature)}}


def verify(document: Json, public: bytes) -> bool:
    """True if the document's proof is a valid `eddsa-jcs-2022` signature by `public`."""
    proof = document.get("proof")
    if not isinstance(proof, dict) or proof.get("cryptosuite") != CRYPTOSUITE:
        return False
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        signature = from_multibase_b58(str(proof.get("proofValue", "")))
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _hash_data(document, options))
    except (InvalidSignature, ValueError):
        return False
    return True
