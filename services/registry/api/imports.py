"""CSV imports of people and households over HTTP: upload, progress, rejection report, and
the person id of each accepted row.

The format and what each row does are described in services/registry/handlers/imports/
and docs/registry-import.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.registry.handlers import imports
from services.registry.schemas import (
    ImportOut,
    ImportPeoplePageOut,
    ImportPersonOut,
    RejectionOut,
    RejectionPageOut,
)
from shared.auth import Db, ReadKey, WriteKey
from shared.db import Database
from shared.errors import DomainError
from shared.types import After

router = APIRouter(tags=["imports"])
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "the CSV file itself, UTF-8, streamed as the body (not a form)",
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_REPORT_COLUMNS = ("line", "field", "reason", "existing_person_id")


@router.post("/imports", status_code=202, response_model=ImportOut, openapi_extra=_CSV_BODY)
async def upload(
    request: Request,
    response: Response,
    *,
    file_name: str = Query(min_length=1, max_length=255, examples=["village-survey.csv"]),
    who: WriteKey,
    db: Db,
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


@router.get("/imports", response_model=list[ImportOut])
async def jobs(
    *,
    status: str | None = Query(None, pattern="^(queued|running|done|failed)$"),
    limit: int = Query(50, ge=1, le=500),
    _: ReadKey,
    db: Db,
) -> list[ImportOut]:
    async with db.transaction() as session:
        return [
            ImportOut.of(j) for j in await imports.list_jobs(session, status=status, limit=limit)
        ]


@router.get("/imports/{import_id}", response_model=ImportOut)
async def job(import_id: str, _: ReadKey, db: Db) -> ImportOut:
    async with db.transaction() as session:
        return ImportOut.of(await imports.get_job(session, import_id))


@router.get(
    "/imports/{import_id}/rejections",
    response_model=RejectionPageOut,
    responses={200: {"content": {"text/csv": {}}}},
)
async def rejections(
    import_id: str,
    *,
    after_line: After = 0,
    limit: int = Query(1000, ge=1, le=10_000, description="rejected lines per page"),
    format: Literal["json", "csv"] = Query("json", description="csv: the whole report"),
    _: ReadKey,
    db: Db,
) -> RejectionPageOut | StreamingResponse:
    """Rejected rows: line, field, reason (and the existing person for a clash).

    JSON comes in pages of whole lines; `format=csv` streams the whole report
    (line,field,reason,existing_person_id) for a spreadsheet.
    """
    async with db.transaction() as session:
        page = await imports.rejections(session, import_id, after_line=after_line, limit=limit)
    if format == "csv":
        return StreamingResponse(
            _report(db, import_id, after_line),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{import_id}-rejections.csv"'},
        )
    return RejectionPageOut(
        import_id=import_id,
        rejections=[RejectionOut.model_validate(r.model_dump()) for r in page.rejections],
        next_after_line=page.next_after_line,
    )


@router.get("/imports/{import_id}/people", response_model=ImportPeoplePageOut)
async def row_people(
    import_id: str,
    *,
    after_line: After = 0,
    limit: int = Query(1000, ge=1, le=10_000, description="rows per page"),
    _: WriteKey,
    db: Db,
) -> ImportPeoplePageOut:
    """The person id of each accepted row (created or unchanged), by line, so the uploader
    can link its own rows to the registry; rejected lines are in /rejections.

    Rows are named by line only, never by national ID or name (PDPA): only who holds the
    file can tell whose id it is, hence the write role that uploads, not read.
    """
    async with db.transaction() as session:
        page = await imports.row_people(session, import_id, after_line=after_line, limit=limit)
    return ImportPeoplePageOut(
        import_id=import_id,
        status=page.status,
        people=[
            ImportPersonOut(line=p.line, person_id=p.person_id, outcome=p.outcome)
            for p in page.people
        ],
        next_after_line=page.next_after_line,
    )


async def _report(db: Database, import_id: str, after_line: int) -> AsyncIterator[str]:
    """The report in pages, each read in its own short transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_REPORT_COLUMNS)
    next_line: int | None = after_line
    while next_line is not None:
        async with db.transaction() as session:
            page = await imports.rejections(session, import_id, after_line=next_line, limit=5000)
        for r in page.rejections:
            writer.writerow([r.line, r.field, r.reason, r.existing_person_id or ""])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        next_line = page.next_after_line
