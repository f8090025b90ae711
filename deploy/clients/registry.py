"""`skillbridge import-people FILE`: upload a CSV to the registry and follow the import.

The file is streamed (never read whole), then GET /imports/{id} is polled and shown as ONE
progress line rewritten in place; at the end the summary is printed and the rejection report
(line,field,reason,existing_person_id) is written next to the file, or where --report says.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx

from deploy.clients.base import ApiError, auth_headers, problem

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


async def _pieces(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while piece := await file.read(PIECE_BYTES):
            yield piece


async def upload(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    response = await client.post(
        "/imports",
        params={"file_name": path.name},
        content=_pieces(path),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    if response.status_code != 202:
        raise ImportFailed(problem(response))
    job: dict[str, Any] = response.json()
    return job


def progress_line(job: dict[str, Any]) -> str:
    total = job.get("rows_total") or 0
    rate = job.get("rows_per_second") or 0
    return (
        f"{job['rows_done']:,}/{total:,} rows {job['percent']:5.1f}%  {rate:,.0f} rows/s  "
        f"created {job['created']:,}  unchanged {job['unchanged']:,}  "
        f"rejected {job['rejected']:,}  flagged {job['flagged']:,}  [{job['status']}]"
    )


async def follow(
    client: httpx.AsyncClient,
    import_id: str,
    *,
    out: TextIO = sys.stdout,
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, Any]:
    """Poll until the job is done or failed, rewriting one progress line."""
    width = 0
    while True:
        response = await client.get(f"/imports/{import_id}")
        if response.status_code != 200:
            raise ImportFailed(problem(response))
        job: dict[str, Any] = response.json()
        line = progress_line(job)
        out.write("\r" + line.ljust(width))
        out.flush()
        width = len(line)
        if job["status"] in ("done", "failed"):
            out.write("\n")
            return job
        await anyio.sleep(poll_seconds)


async def save_report(client: httpx.AsyncClient, import_id: str, dest: Path) -> None:
    async with client.stream(
        "GET", f"/imports/{import_id}/rejections", params={"format": "csv"}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise ImportFailed(problem(response))
        await anyio.Path(dest.parent).mkdir(parents=True, exist_ok=True)
        async with await anyio.open_file(dest, "wb") as file:
            async for piece in response.aiter_bytes():
                await file.write(piece)


async def import_file(
    client: httpx.AsyncClient,
    path: Path,
    *,
    report: Path | None = None,
    out: TextIO = sys.stdout,
    poll_seconds: float = POLL_SECONDS,
) -> Outcome:
    started = time.perf_counter()
    size = (await anyio.Path(path).stat()).st_size
    out.write(f"uploading {path} ({size:,} bytes)\n")
    job = await upload(client, path)
    uploaded = time.perf_counter() - started
    out.write(
        f"import {job['import_id']}: {job['rows_total']:,} rows queued "
        f"(upload {uploaded:.1f} s, sha256 {job['sha256'][:12]})\n"
    )
    job = await follow(client, job["import_id"], out=out, poll_seconds=poll_seconds)
    total = time.perf_counter() - started
    dest = report or report_path(path)
    await save_report(client, job["import_id"], dest)
    out.write(
        f"{job['status']}: {job['rows_done']:,} rows in {total:.1f} s "
        f"({job['rows_per_second'] or 0:,.0f} rows/s in the worker); created {job['created']:,}, "
        f"unchanged {job['unchanged']:,}, rejected {job['rejected']:,}, "
        f"flagged {job['flagged']:,}\n"
        f"rejection report: {dest}\n"
    )
    if job.get("error"):
        out.write(f"error: {job['error']}\n")
    return Outcome(job, dest, uploaded, total)


def run(*, url: str, key: str, path: Path, report: Path | None) -> int:
    """The CLI: 0 when the import finished (rejected rows included), 1 otherwise."""

    async def main() -> Outcome:
        async with httpx.AsyncClient(
            base_url=url,
            headers=auth_headers(key),
            timeout=httpx.Timeout(30, write=300),
        ) as client:
            return await import_file(client, path, report=report)

    try:
        outcome = anyio.run(main)
    except (ImportFailed, httpx.HTTPError) as error:
        print(f"import failed: {error}", file=sys.stderr)
        return 1
    return 0 if outcome.ok else 1
