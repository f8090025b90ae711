"""Calls to the registry's API: people, households and organisations, and the CSV import
(`skillbridge import-people`, bench-import, and the seeder, which registers its people with
one import and reads their ids back by line).

An import streams the file (never read whole), then polls GET /imports/{id}, showing it as
ONE progress line rewritten in place; at the end the summary is printed and the rejection
report (line,field,reason,existing_person_id) is written next to the file, or where asked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx

from deploy.clients.base import ApiError, Json, ServiceClient

PIECE_BYTES = 1 << 20
POLL_SECONDS = 0.5


class ImportFailed(ApiError):
    """The registry refused the file or the job failed; the message says why."""


@dataclass(frozen=True)
class Outcome:
    job: dict[str, Any]
    report: Path
    upload_seconds: float
    total_seconds: float  # upload start -> job done

    @property
    def ok(self) -> bool:
        return bool(self.job["status"] == "done")


def report_path(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}.rejections.csv")


def progress_line(job: dict[str, Any]) -> str:
    total = job.get("rows_total") or 0
    rate = job.get("rows_per_second") or 0
    return (
        f"{job['rows_done']:,}/{total:,} rows {job['percent']:5.1f}%  {rate:,.0f} rows/s  "
        f"created {job['created']:,}  unchanged {job['unchanged']:,}  "
        f"rejected {job['rejected']:,}  flagged {job['flagged']:,}  [{job['status']}]"
    )


def summary(job: dict[str, Any], total: float, dest: Path) -> str:
    """What an import printed at its end."""
    return (
        f"{job['status']}: {job['rows_done']:,} rows in {total:.1f} s "
        f"({job['rows_per_second'] or 0:,.0f} rows/s in the worker); created {job['created']:,}, "
        f"unchanged {job['unchanged']:,}, rejected {job['rejected']:,}, "
        f"flagged {job['flagged']:,}\n"
        f"rejection report: {dest}\n"
    )


async def _pieces(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while piece := await file.read(PIECE_BYTES):
            yield piece


class RegistryClient(ServiceClient):
    """People, households, organisations and CSV imports."""

    async def register_person(self, person: Mapping[str, Any], *, deadline: float) -> Json:
        """201 with the new `person_id`, or 409 with the `existing_person_id` (a rerun)."""
        return self.expect(await self._post("/people", person, deadline), 201, 409)

    async def register_household(self, household: Mapping[str, Any], *, deadline: float) -> Json:
        """201, or 409 for a household registered already (a rerun)."""
        return self.expect(await self._post("/households", household, deadline), 201, 409)

    async def register_organisation(self, organisation: Mapping[str, Any]) -> Json:
        """200: registered already with the same data; 409: with other data (still there)."""
        response = await self.http.post(f"{self.url}/organisations", json=organisation)
        return self.expect(response, 200, 201, 409)

    async def register_village(self, village: Mapping[str, Any], *, deadline: float) -> Json:
        """201 registered, or 200: registered already with the same data (a rerun)."""
        return self.expect(await self._post("/places/villages", village, deadline), 200, 201)

    async def register_trainer(self, trainer: Mapping[str, Any], *, deadline: float) -> Json:
        """201 with the new `trainer_id` (the register has no natural key: a rerun adds more)."""
        return self.expect(await self._post("/trainers", trainer, deadline), 201)

    async def person(self, person_id: str) -> Json:
        return self.expect(await self.http.get(f"{self.url}/people/{person_id}"), 200)

    async def record_income(
        self, household_id: str, monthly_income: int, *, deadline: float
    ) -> Json:
        """A new monthly income for the household (HouseholdIncomeRecorded); the household."""
        body = {"monthly_income": monthly_income}
        path = f"/households/{household_id}/income"
        return self.expect(await self._post(path, body, deadline), 201)

    async def upload(self, path: Path) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.url}/imports",
            params={"file_name": path.name},
            content=_pieces(path),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
        if response.status_code != 202:
            raise ImportFailed(self.problem(response))
        job: dict[str, Any] = response.json()
        return job

    async def upload_csv(self, file_name: str, content: bytes, *, deadline: float) -> Json:
        """POST a CSV held in memory; the queued job. Retried only while the registry cannot
        be reached at all (a connection refused never delivered the file)."""
        delay = 0.05
        while True:
            try:
                response = await self.http.post(
                    f"{self.url}/imports",
                    params={"file_name": file_name},
                    content=content,
                    headers={"Content-Type": "text/csv; charset=utf-8"},
                )
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if response.status_code != 202:
            raise ImportFailed(self.problem(response))
        job: Json = response.json()
        return job

    async def job(self, import_id: str) -> Json:
        response = await self.http.get(f"{self.url}/imports/{import_id}")
        if response.status_code != 200:
            raise ImportFailed(self.problem(response))
        job: Json = response.json()
        return job

    async def _pages(self, import_id: str, what: str, key: str) -> list[Json]:
        """Every item of a paged import report (rejections or people), in line order."""
        items: list[Json] = []
        after: int | None = 0
        while after is not None:
            response = await self.http.get(
                f"{self.url}/imports/{import_id}/{what}",
                params={"after_line": after, "limit": 10_000},
            )
            if response.status_code != 200:
                raise ImportFailed(self.problem(response))
            page = response.json()
            items += page[key]
            after = page["next_after_line"]
        return items

    async def row_people(self, import_id: str) -> dict[int, str]:
        """line -> person_id of every accepted row (created or unchanged)."""
        people = await self._pages(import_id, "people", "people")
        return {int(p["line"]): str(p["person_id"]) for p in people}

    async def rejections(self, import_id: str) -> list[Json]:
        """The rejection report's entries (line, field, reason, existing_person_id)."""
        return await self._pages(import_id, "rejections", "rejections")

    async def follow(
        self, import_id: str, *, out: TextIO = sys.stdout, poll_seconds: float = POLL_SECONDS
    ) -> dict[str, Any]:
        """Poll until the job is done or failed, rewriting one progress line."""
        width = 0
        while True:
            response = await self.http.get(f"{self.url}/imports/{import_id}")
            if response.status_code != 200:
                raise ImportFailed(self.problem(response))
            job: dict[str, Any] = response.json()
            line = progress_line(job)
            out.write("\r" + line.ljust(width))
            out.flush()
            width = len(line)
            if job["status"] in ("done", "failed"):
                out.write("\n")
                return job
            await anyio.sleep(poll_seconds)

    async def save_report(self, import_id: str, dest: Path) -> None:
        async with self.http.stream(
            "GET", f"{self.url}/imports/{import_id}/rejections", params={"format": "csv"}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise ImportFailed(self.problem(response))
            await anyio.Path(dest.parent).mkdir(parents=True, exist_ok=True)
            async with await anyio.open_file(dest, "wb") as file:
                async for piece in response.aiter_bytes():
                    await file.write(piece)

    async def import_file(
        self,
        path: Path,
        *,
        report: Path | None = None,
        out: TextIO = sys.stdout,
        poll_seconds: float = POLL_SECONDS,
    ) -> Outcome:
        started = time.perf_counter()
        size = (await anyio.Path(path).stat()).st_size
        out.write(f"uploading {path} ({size:,} bytes)\n")
        job = await self.upload(path)
        uploaded = time.perf_counter() - started
        out.write(
            f"import {job['import_id']}: {job['rows_total']:,} rows queued "
            f"(upload {uploaded:.1f} s, sha256 {job['sha256'][:12]})\n"
        )
        job = await self.follow(job["import_id"], out=out, poll_seconds=poll_seconds)
        total = time.perf_counter() - started
        dest = report or report_path(path)
        await self.save_report(job["import_id"], dest)
        out.write(summary(job, total, dest))
        if job.get("error"):
            out.write(f"error: {job['error']}\n")
        return Outcome(job, dest, uploaded, total)
