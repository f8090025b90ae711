"""Drives assessments through the certification service's API (docs/certification.md).

Used by the seeder (deploy/scenarios/seed.py), bench-verify and the end-to-end tests. The
caller's client carries the operator key; standards and verification are public. Every call
retries while the service is unreachable (a restart), until `retry_for` seconds have passed.
Retries are harmless: a session or candidate registered again with the same body is returned
as it is, and the same results recorded again decide nothing new (no second certificate).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deploy.clients.base import OK, RETRY_FOR, ApiError, Json, ServiceClient, retry_deadline

BATCH = 1_000  # people per request (the service takes up to 5,000)
ASSESSOR = "tpqi"  # seeded by the registry as an assessor organisation


def standard_code(occupation: str, level: int) -> str:
    """The shipped standards' codes (services/certification/data/standards.json)."""
    return f"{occupation}-l{level}"


def unit_results(standard_body: Mapping[str, Any], passes: bool) -> dict[str, bool]:
    """The pilot's facts as unit results: a pass passes every unit; a fail fails the first
    required unit and passes the rest."""
    units = list(standard_body["units"])
    first_required = next(u["code"] for u in units if u["required"])
    return {u["code"]: passes or u["code"] != first_required for u in units}


@dataclass(frozen=True)
class Candidate:
    person_id: str
    full_name: str  # as on the ID card the centre checked
    route: str = "training"  # or "experience", with evidence
    evidence_description: str | None = None
    evidence_years: int | None = None

    def body(self) -> Json:
        body: Json = {"person_id": self.person_id, "full_name": self.full_name, "route": self.route}
        if self.evidence_description is not None:
            body["evidence"] = {
                "description": self.evidence_description,
                "years": self.evidence_years or 0,
            }
        return body


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for first in range(0, len(items), BATCH):
        yield items[first : first + BATCH]


class CertificationClient(ServiceClient):
    """Standards, assessment sessions, candidates and results."""

    async def standard(self, code: str, *, retry_for: float = RETRY_FOR) -> Json:
        response = await self._get(f"/standards/{code}", retry_deadline(retry_for))
        return self.expect(response, 200)

    async def ensure_session(
        self,
        *,
        code: str,
        standard_code: str,
        held_on: datetime.date,
        assessor_code: str = ASSESSOR,
        venue: str | None = None,
        retry_for: float = RETRY_FOR,
    ) -> Json:
        body = {
            "code": code,
            "standard_code": standard_code,
            "assessor_code": assessor_code,
            "held_on": held_on.isoformat(),
            "venue": venue,
        }
        # 404: the assessor's OrganisationRegistered has not reached certification yet.
        response = await self._post("/sessions", body, retry_deadline(retry_for), retry_404=True)
        return self.expect(response, *OK)

    async def register_candidates(
        self,
        session_code: str,
        candidates: Sequence[Candidate],
        *,
        retry_for: float = RETRY_FOR,
    ) -> list[Json]:
        deadline = retry_deadline(retry_for)
        registered: list[Json] = []
        for chunk in _chunks(candidates):
            body = {"candidates": [c.body() for c in chunk]}
            response = await self._post(f"/sessions/{session_code}/candidates", body, deadline)
            self.expect(response, 200)
            registered.extend(response.json())
        return registered

    async def record_results(
        self,
        session_code: str,
        results: Mapping[str, Mapping[str, bool]],  # person_id -> unit code -> passed
        *,
        retry_for: float = RETRY_FOR,
    ) -> list[Json]:
        """Each person's assessment (status awarded, awaiting-training or failed)."""
        deadline = retry_deadline(retry_for)
        items = [{"person_id": pid, "units": dict(units)} for pid, units in results.items()]
        recorded: list[Json] = []
        for chunk in _chunks(items):
            body = {"results": list(chunk)}
            response = await self._post(f"/sessions/{session_code}/results", body, deadline)
            self.expect(response, 200)
            recorded.extend(response.json())
        return recorded


__all__ = [
    "ASSESSOR",
    "ApiError",
    "Candidate",
    "CertificationClient",
    "standard_code",
    "unit_results",
]
