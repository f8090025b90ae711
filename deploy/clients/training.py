"""Drives one training programme through the training service's API (docs/training.md).

Used by the seeder (deploy/scenarios/seed.py), the demo and the end-to-end tests. The
caller's client carries the operator key (`Authorization: Bearer ...`): every training route
needs one.

Every call retries while the service is unreachable, until `retry_for` seconds have passed:
a service may be restarting (the fault tests kill one). A retried request may have been
applied already: the set-up calls get 200 for a record that exists with the same body,
applying returns an existing application, attendance overwrites, and selection and closure
accept the 409 that says they already ran. A 409 from a set-up call means the record exists
with a different body: that is raised, not papered over.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from deploy.clients.base import OK, RETRY_FOR, ApiError, Json, ServiceClient, retry_deadline

BATCH = 1_000  # ids per batch request (the service takes up to 5,000)
ATTENDANCE_BATCH = 10_000  # records per attendance request (the service's limit)


def attendance(
    dates: Sequence[datetime.date], days_attended: Mapping[str, int]
) -> list[tuple[str, datetime.date, bool]]:
    """Records for people present on their first n dates and absent after (absences are
    recorded too, so a rerun with fewer days overwrites rather than keeps old presence)."""
    ordered = sorted(dates)
    return [
        (person_id, day, index < attended)
        for person_id, attended in days_attended.items()
        for index, day in enumerate(ordered)
    ]


class TrainingClient(ServiceClient):
    """Programmes, courses, cohorts and what happens in a cohort: applications, selection,
    attendance, practicals, closure; and a programme's achievement."""

    async def ensure_programme(
        self,
        *,
        code: str,
        name: str,
        owner_code: str,
        year: int,
        occupations: Sequence[str],
        target_total: int,
        targets: Sequence[Mapping[str, Any]] = (),
        retry_for: float = RETRY_FOR,
    ) -> Json:
        body = {
            "code": code,
            "name": name,
            "owner_code": owner_code,
            "year": year,
            "occupations": list(occupations),
            "target_total": target_total,
            "targets": list(targets),
        }
        # 404: the owner's OrganisationRegistered has not reached training yet (just after start).
        response = await self._post("/programmes", body, retry_deadline(retry_for), retry_404=True)
        return self.expect(response, *OK)

    async def ensure_course(
        self,
        *,
        code: str,
        programme_code: str,
        occupation: str,
        title: str,
        days: int,
        hours: int,
        day_plan: Sequence[tuple[int, int, str]],  # (from_day, to_day, activity)
        min_attendance_days: int,
        practical_required: bool = False,
        retry_for: float = RETRY_FOR,
    ) -> Json:
        body = {
            "code": code,
            "programme_code": programme_code,
            "occupation": occupation,
            "title": title,
            "days": days,
            "hours": hours,
            "day_plan": [
                {"from_day": first, "to_day": last, "activity": activity}
                for first, last, activity in day_plan
            ],
            "completion": {
                "min_attendance_days": min_attendance_days,
                "practical_required": practical_required,
            },
        }
        response = await self._post("/courses", body, retry_deadline(retry_for))
        return self.expect(response, *OK)

    async def ensure_cohort(
        self,
        *,
        code: str,
        course_code: str,
        venue: Mapping[str, str],  # {kind: estate|learning-centre|village, code, name?}
        dates: Sequence[datetime.date],
        capacity: int,
        village_cap: int | None = 20,
        one_per_household: bool = True,
        trainer_ids: Sequence[str] = (),
        retry_for: float = RETRY_FOR,
    ) -> Json:
        # The dates are sent rather than left to the service, so attendance can name them.
        body = {
            "code": code,
            "course_code": course_code,
            "venue": dict(venue),
            "starts_on": min(dates).isoformat(),
            "dates": [d.isoformat() for d in sorted(dates)],
            "capacity": capacity,
            "village_cap": village_cap,  # always sent: omitted means the service's default, 20
            "one_per_household": one_per_household,
            "trainer_ids": list(trainer_ids),
        }
        # 404: a trainer's TrainerRegistered has not reached training yet.
        response = await self._post(
            "/cohorts", body, retry_deadline(retry_for), retry_404=bool(trainer_ids)
        )
        return self.expect(response, *OK)  # the cohort, with its `status` (open, selected, closed)

    async def apply_all(
        self, cohort_code: str, person_ids: Iterable[str], *, retry_for: float = RETRY_FOR
    ) -> dict[str, Json]:
        """Apply everyone (an id already applied gets its application back); person_id ->
        the batch's result for it. A 404 for an id means training has not replicated the
        person's PersonRegistered yet: those ids are sent again until the deadline."""
        deadline = retry_deadline(retry_for)
        pending = list(dict.fromkeys(person_ids))
        applied: dict[str, Json] = {}
        delay = 0.05
        while pending:
            lagging: list[str] = []
            for first in range(0, len(pending), BATCH):
                chunk = pending[first : first + BATCH]
                lagging += await self._apply_batch(cohort_code, chunk, deadline, applied)
            if lagging:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            pending = lagging
        return applied

    async def _apply_batch(
        self, cohort_code: str, chunk: list[str], deadline: float, applied: dict[str, Json]
    ) -> list[str]:
        """One batch: successes go into `applied`; returns the ids training does not know yet
        (while the deadline allows); any other error is raised."""
        path = f"/cohorts/{cohort_code}/applications/batch"
        response = await self._post(path, {"person_ids": chunk}, deadline)
        lagging: list[str] = []
        for result in self.expect(response, 200)["results"]:
            error = result.get("error")
            if error is None:
                applied[result["person_id"]] = result
            elif error.get("status") == 404 and time.monotonic() <= deadline:
                lagging.append(result["person_id"])
            else:
                raise ApiError(
                    f"applying {result['person_id']} to {cohort_code}: "
                    f"{error.get('status')} {error.get('detail')}"
                )
        return lagging

    async def select(self, cohort_code: str, *, retry_for: float = RETRY_FOR) -> Json:
        path = f"/cohorts/{cohort_code}/selection"
        response = await self._post(path, None, retry_deadline(retry_for))
        return self.expect(response, *OK, 409)  # 409: selection already ran

    async def record_attendance(
        self,
        cohort_code: str,
        records: Sequence[tuple[str, datetime.date, bool]],  # (person_id, date, present)
        *,
        retry_for: float = RETRY_FOR,
    ) -> None:
        deadline = retry_deadline(retry_for)
        for first in range(0, len(records), ATTENDANCE_BATCH):
            body = {
                "records": [
                    {"person_id": person_id, "date": day.isoformat(), "present": present}
                    for person_id, day, present in records[first : first + ATTENDANCE_BATCH]
                ]
            }
            # Recording again overwrites, so a retry after a lost response is harmless.
            path = f"/cohorts/{cohort_code}/attendance"
            self.expect(await self._post(path, body, deadline), *OK)

    async def record_practicals(
        self, cohort_code: str, passed: Mapping[str, bool], *, retry_for: float = RETRY_FOR
    ) -> None:
        body = {"results": [{"person_id": pid, "passed": ok} for pid, ok in passed.items()]}
        path = f"/cohorts/{cohort_code}/practicals"
        self.expect(await self._post(path, body, retry_deadline(retry_for)), *OK)

    async def close(self, cohort_code: str, *, retry_for: float = RETRY_FOR) -> Json:
        path = f"/cohorts/{cohort_code}/closure"
        response = await self._post(path, None, retry_deadline(retry_for))
        if response.status_code == 409:  # fine if closed already (a retry); not if still running
            cohort = self.expect(await self.http.get(f"{self.url}/cohorts/{cohort_code}"), 200)
            if cohort["status"] == "closed":
                return cohort
        return self.expect(response, *OK)

    async def replica(self) -> dict[str, int]:
        """How many people, households, memberships, trainers and organisations training's
        replica of the registry holds (GET /replica), to wait for it to catch up."""
        body = self.expect(await self.http.get(f"{self.url}/replica"), 200)
        return {name: int(n) for name, n in body.items()}

    async def cohorts(self, programme_code: str) -> list[Json]:
        """The programme's cohorts, each with its `counts` by application status."""
        response = await self.http.get(
            f"{self.url}/cohorts", params={"programme_code": programme_code}
        )
        if response.status_code != 200:
            raise ApiError(f"GET cohorts of {programme_code}: {self.problem(response)}")
        rows: list[Json] = response.json()
        return rows

    async def applications(self, cohort_code: str, status: str | None = None) -> list[Json]:
        """The cohort's applications in rank order, each with its `why`."""
        params = {"status": status} if status else {}
        response = await self.http.get(
            f"{self.url}/cohorts/{cohort_code}/applications", params=params
        )
        if response.status_code != 200:
            raise ApiError(f"GET applications of {cohort_code}: {self.problem(response)}")
        rows: list[Json] = response.json()
        return rows

    async def achievement(self, programme_code: str) -> Json:
        """The training service's own figure for a programme (learners it saw complete);
        httpx.HTTPStatusError on an error status."""
        response = await self.http.get(f"{self.url}/programmes/{programme_code}/achievement")
        response.raise_for_status()
        body: Json = response.json()
        return body
