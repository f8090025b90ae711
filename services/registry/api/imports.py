"""CSV imports of people and households over HTTP: upload, progress, rejection report.

The format and what each row does are described in services/registry/handlers/imports.py
and docs/registry-import.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.registry.api.deps import Deps
from services.registry.handlers import imports
from services.registry.tables import ImportJob
from shared.auth import Operator
from shared.errors import DomainError
from shared.types import After

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "the CSV file itself, UTF-8, streamed as the body (not a form)",
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_REPORT_COLUMNS = ("line", "field", "reason", "existing_person_id")


class ImportOut(BaseModel):
    import_id: str
    file_name: str
    sha256: str
    size_bytes: int
    status: str = Field(description="queued, running, done or failed")
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_total: int | None = Field(description="data rows, counted at upload")
    rows_done: int
    created: int
    unchanged: int = Field(description="already registered with the same data")
    rejected: int = Field(description="rows rejected; see /imports/{id}/rejections")
    flagged: int = Field(description="people registered and flagged as likely duplicates")
    percent: float
    rows_per_second: float | None = Field(description="since the job started")
    error: str | None

    @classmethod
    def of(cls, job: ImportJob) -> ImportOut:
        total = job.rows_total or 0
        rate = None
        if job.started_at is not None:
            elapsed = ((job.finished_at or datetime.now(UTC)) - job.started_at).total_seconds()
            rate = round(job.rows_done / elapsed, 1) if elapsed > 0 else None
        return cls(
            **job.model_dump(),
            percent=round(100 * job.rows_done / total, 1) if total else 100.0,
            rows_per_second=rate,
        )


class RejectionOut(BaseModel):
    line: int
    field: str
    reason: str
    existing_person_id: str | None


class RejectionPageOut(BaseModel):
    import_id: str
    rejections: list[RejectionOut]
    next_after_line: int | None = Field(description="pass as after_line for the next page")


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["imports"])
    db = deps.db

    @api.post("/imports", status_code=202, response_model=ImportOut, openapi_extra=_CSV_BODY)
    async def upload(
        request: Request,
        response: Response,
        file_name: str = Query(min_length=1, max_length=255, examples=["village-survey.csv"]),
        who: Operator = Depends(deps.writer),
    ) -> ImportOut:
        """Upload a CSV of people and households (streamed); it is imported in the background.

        A bad header or text that is not UTF-8 is refused at once (422); rejected rows are
        reported per line afterwards, without stopping the import.
        """
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise DomainError(
                "send the CSV itself as the body, not a form "
                "(curl --data-binary @people.csv -H 'Content-Type: text/csv')",
                field="body",
            )
        job = await imports.create_job(db, who.name, file_name, request.stream())
        response.headers["Location"] = f"/imports/{job.import_id}"
        return ImportOut.of(job)

    @api.get("/imports", response_model=list[ImportOut])
    async def jobs(
        status: str | None = Query(None, pattern="^(queued|running|done|failed)$"),
        limit: int = Query(50, ge=1, le=500),
        _: Operator = Depends(deps.reader),
    ) -> list[ImportOut]:
        async with db.transaction() as session:
            return [
                ImportOut.of(j)
                for j in await imports.list_jobs(session, status=status, limit=limit)
            ]

    @api.get("/imports/{import_id}", response_model=ImportOut)
    async def job(import_id: str, _: Operator = Depends(deps.reader)) -> ImportOut:
        async with db.transaction() as session:
            return ImportOut.of(await imports.get_job(session, import_id))

    @api.get(
        "/imports/{import_id}/rejections",
        response_model=RejectionPageOut,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def rejections(
        import_id: str,
        after_line: After = 0,
        limit: int = Query(1000, ge=1, le=10_000, description="rejected lines per page"),
        format: Literal["json", "csv"] = Query("json", description="csv: the whole report"),
        _: Operator = Depends(deps.reader),
    ) -> RejectionPageOut | StreamingResponse:
        """Rejected rows: line, field, reason (and the existing person for a clash).

        JSON comes in pages of whole lines; `format=csv` streams the whole report
        (line,field,reason,existing_person_id) for a spreadsheet.
        """
        async with db.transaction() as session:
            page = await imports.rejections(session, import_id, after_line=after_line, limit=limit)
        if format == "csv":
            return StreamingResponse(
                _report(deps, import_id, after_line),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{import_id}-rejections.csv"'
                },
            )
        return RejectionPageOut(
            import_id=import_id,
            rejections=[RejectionOut.model_validate(r.model_dump()) for r in page.rejections],
            next_after_line=page.next_after_line,
        )

    return api


async def _report(deps: Deps, import_id: str, after_line: int) -> AsyncIterator[str]:
    """The report in pages, each read in its own short transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_REPORT_COLUMNS)
    next_line: int | None = after_line
    while next_line is not None:
        async with deps.db.transaction() as session:
            page = await imports.rejections(session, import_id, after_line=next_line, limit=5000)
        for r in page.rejections:
            writer.writerow([r.line, r.field, r.reason, r.existing_person_id or ""])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        next_line = page.next_after_line
