"""The documents a verifier reads: the certificate as an Open Badges 3.0 credential
(W3C VC Data Model 2.0), the revocation status list credential and the issuer's DID
document. Pure: built from plain facts, signed by `signing` (docs/decisions/0011).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from services.certification import signing
from services.certification.domain import Unit

Json = dict[str, Any]

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
STATUS_LIST_ID = "1"  # one revocation list; see docs/decisions/0011 for when it fills


def did_web(public_url: str) -> str:
    """`did:web` of the service's public base URL (port percent-encoded, path as ':')."""
    parts = urlsplit(public_url)
    did = "did:web:" + quote(parts.netloc, safe="")
    path = [segment for segment in parts.path.split("/") if segment]
    return ":".join([did, *path])


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _end_of(day: date) -> str:
    # Valid through the whole valid-until day (UTC), as the verification endpoint says.
    return f"{day.isoformat()}T23:59:59Z"


@dataclass(frozen=True)
class Issuer:
    public_url: str
    name: str

    @property
    def did(self) -> str:
        return did_web(self.public_url)

    def profile(self) -> Json:
        return {"id": self.did, "type": ["Profile"], "name": self.name, "url": self.public_url}

    def method(self, key_id: str) -> str:
        return f"{self.did}#{key_id}"

    def verify_url(self, number: str) -> str:
        return f"{self.public_url}/verify/{number}"

    def credential_url(self, number: str) -> str:
        return f"{self.public_url}/credentials/{number}"

    def standard_url(self, code: str) -> str:
        return f"{self.public_url}/standards/{code}"

    def status_list_url(self) -> str:
        return f"{self.public_url}/status-lists/{STATUS_LIST_ID}"


@dataclass(frozen=True)
class CertificateFacts:
    number: str
    standard_code: str
    standard_title: str
    occupation: str
    occupation_title: str
    level: int
    units: Sequence[Unit]  # the standard's units, as the pass rule reads them
    holder_name: str | None  # None once the person is erased
    awarded_at: datetime
    credential_issued_at: datetime  # award, or the latest renewal
    valid_until: date
    status_index: int | None


def open_badge(issuer: Issuer, facts: CertificateFacts) -> Json:
    """The unsigned OpenBadgeCredential of one certificate."""
    required = "; ".join(f"{u.code} {u.title}" for u in facts.units if u.required)
    subject: Json = {
        "type": ["AchievementSubject"],
        "achievement": {
            "id": issuer.standard_url(facts.standard_code),
            "type": ["Achievement"],
            "achievementType": "Certification",
            "name": facts.standard_title,
            "description": (
                f"Professional qualification in {facts.occupation_title}, "
                f"level {facts.level} of 8 (standard {facts.standard_code})."
            ),
            "criteria": {"narrative": f"Passed every required competency unit: {required}."},
            "humanCode": facts.standard_code,
            "fieldOfStudy": facts.occupation_title,
            "tag": [facts.occupation, f"level-{facts.level}"],
        },
    }
    if facts.holder_name:
        # Open Badges names the holder with an IdentityObject (plain text: hashed false).
        subject["identifier"] = [
            {
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": False,
                "identityHash": facts.holder_name,
            }
        ]
    credential: Json = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": issuer.credential_url(facts.number),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{facts.standard_title}: certificate {facts.number}",
        "issuer": issuer.profile(),
        "validFrom": _timestamp(facts.credential_issued_at),
        "validUntil": _end_of(facts.valid_until),
        "awardedDate": _timestamp(facts.awarded_at),
        "credentialSubject": subject,
    }
    if facts.status_index is not None:
        credential["credentialStatus"] = {
            "id": f"{issuer.status_list_url()}#{facts.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(facts.status_index),
            "statusListCredential": issuer.status_list_url(),
        }
    return credential


def status_list(issuer: Issuer, encoded_list: str, valid_from: datetime) -> Json:
    """The unsigned BitstringStatusListCredential for revocation."""
    url = issuer.status_list_url()
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.profile(),
        "validFrom": _timestamp(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
        },
    }


def did_document(issuer: Issuer, keys: Iterable[tuple[str, str]]) -> Json:
    """The issuer's DID document: every (key id, Multikey) it signs or signed with."""
    methods = [
        {
            "id": issuer.method(key_id),
            "type": "Multikey",
            "controller": issuer.did,
            "publicKeyMultibase": public,
        }
        for key_id, public in keys
    ]
    ids = [m["id"] for m in methods]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": issuer.did,
        "verificationMethod": methods,
        "assertionMethod": ids,
        "authentication": ids,
    }


def signed(issuer: Issuer, document: Json, key: signing.Key, created: datetime) -> Json:
    return signing.sign(document, key, issuer.method(key.key_id), created)
