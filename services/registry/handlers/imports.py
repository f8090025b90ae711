"""Bulk import of people and households from CSV: a streamed upload, then a resumable worker.

CSV format
----------
UTF-8 text (a byte-order mark is allowed, as Excel writes one), comma-separated, quoted as in
RFC 4180: a cell holding a comma, a quote or a line break is enclosed in double quotes, and a
quote inside it is doubled. The first non-blank record is the header; column names may come in
any order, and case and surrounding spaces are ignored. The columns:

    national_id      required; the 13-digit Thai ID (dashes and spaces allowed)
    first_name_th    required
    last_name_th     required
    first_name_en, last_name_en
    birth_date       YYYY-MM-DD or DD/MM/YYYY; Buddhist Era years (e.g. 12/05/2530) accepted
    sex              female, male or other
    phone            9 to 15 digits, optionally with a leading +
    house_no, street, subdistrict, district
    village_code     a village registered beforehand (POST /places/villages), in the province
    province_code    required; the official 2-digit code (10 = Bangkok)
    household_code   optional: the programme's household code; found, or created
    monthly_income   optional: whole THB per month; needs a household_code on the same row

A header with another column, a repeated one, or without a required one rejects the whole
file at upload (422, field "header"), before anything is stored; so does text that is not UTF-8
or not CSV. An empty cell means "not given". Blank lines and rows of empty cells are skipped
and not counted. Lines are physical lines of the file (the header is line 1 when it comes
first); a record with a quoted line break is reported at the line it starts on.

What a row does
---------------
- Invalid cells: rejected, one report entry per field at fault, named as in the HTTP API
  (`national_id`, `address.province_code`, `household_code`, ...). A row whose cell count
  differs from the header's is rejected with field `row`.
- A national ID accepted on an earlier line of the same file: rejected, field `national_id`,
  "duplicate of line N in this file".
- A national ID already registered: when every cell the row gives matches the registry, the
  row is `unchanged` (so importing a file again creates nothing); otherwise it is rejected
  with `existing_person_id` (an import never overwrites a person; use PATCH /people/{id}).
- Otherwise the person is registered exactly as POST /people does it (same rules, same
  PersonRegistered event, same audit entry); likely duplicates (same Thai name, birth date and
  province) are registered and flagged for review, never rejected (`flagged` counts them).
- household_code: the household with that code is found, or created in the person's province
  and village; the person joins it. A person already in another household is rejected (field
  `household_code`). monthly_income is recorded only when it differs from the household's
  current income; a row giving another income than an earlier line for the same household is
  rejected, so a file has one income per household and a re-import records nothing.

Crash safety
------------
The upload is kept in the database (ImportChunk, about 1 MiB each), so any replica can run the
job. Each batch of `import_batch_rows` rows commits its people, households, events, audit,
rejections and the job's counters (`rows_done`, ...) in one transaction: after a crash the
worker skips the `rows_done` rows already committed (rebuilding what it must remember of them)
and a batch that was cut short is redone whole. Job states: queued, running, done, failed.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import json
import logging
import re
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import domain
from services.registry.handlers import households as household_handlers
from services.registry.handlers import people, sharing
from services.registry.schemas import HouseholdIn, PersonIn
from services.registry.settings import RegistrySettings
from services.registry.tables import (
    AuditEntry,
    DuplicateFlag,
    Household,
    ImportChunk,
    ImportJob,
    ImportRejection,
    IncomeRecord,
    Outbox,
    Person,
)
from shared.db import STAGED_EVENTS, Database, is_sqlite
from shared.envelope import encode, source_of
from shared.errors import Conflict, DomainError, NotFound
from shared.events import (
    Event,
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdRegistered,
)
from shared.telemetry import current_carrier

log = logging.getLogger(__name__)

SOURCE = source_of("registry")
COLUMNS: tuple[str, ...] = (
    "national_id",
    "first_name_th",
    "last_name_th",
    "first_name_en",
    "last_name_en",
    "birth_date",
    "sex",
    "phone",
    "house_no",
    "street",
    "village_code",
    "subdistrict",
    "district",
    "province_code",
    "household_code",
    "monthly_income",
)
REQUIRED: tuple[str, ...] = ("national_id", "first_name_th", "last_name_th", "province_code")
_ADDRESS = frozenset(people.ADDRESS_FIELDS)
_HOUSEHOLD = frozenset({"household_code", "monthly_income"})
# Rejection reasons never keep personal data: these fields' values are cut from messages.
_PERSONAL = frozenset(people.PERSONAL_FIELDS)

CHUNK_BYTES = 1 << 20
MAX_HEADER_BYTES = 64 << 10  # the header is checked before the first chunk is stored
MAX_FILE_BYTES = 1 << 30
ACTIVE = ("queued", "running")
_ATTEMPTS = 3  # a batch that loses a race on a unique key is redone; a job fails after 3 tries
_REASON_MAX = 500

_tracer = trace.get_tracer("skillbridge")
_wakers: weakref.WeakKeyDictionary[Database, asyncio.Event] = weakref.WeakKeyDictionary()


def wake_event(db: Database) -> asyncio.Event:
    """Set when a job is queued on `db`, so this process's worker starts it at once."""
    return _wakers.setdefault(db, asyncio.Event())


# --- reading CSV in pieces -------------------------------------------------------------


class Records:
    """Bytes in, in pieces of any size; CSV records out, with the line each starts on.

    A record ends at a line break outside quotes. Quotes are counted per line, and every
    candidate record goes to its own `csv.reader`, so the output never depends on where the
    pieces were cut (the upload's pieces and the stored chunks differ).
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._partial = ""  # text after the last line break
        self._group: list[str] = []  # lines of a record still inside quotes
        self._odd = False  # an odd number of quotes in the group so far
        self._line = 1  # number of the group's first line
        self._bytes = 0

    @property
    def buffered(self) -> int:
        """Characters held back: an unfinished line or a record still inside quotes."""
        return len(self._partial) + sum(map(len, self._group))

    def feed(self, data: bytes, *, final: bool = False) -> list[tuple[int, list[str]]]:
        try:
            text = self._partial + self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            raise DomainError(
                f"the file is not UTF-8 text (byte {self._bytes + error.start + 1}, "
                f"near line {self._line + len(self._group)})",
                field="body",
            ) from error
        self._bytes += len(data)
        *complete, self._partial = text.split("\n")
        lines = [f"{line}\n" for line in complete]
        if final and self._partial:
            lines.append(self._partial)  # the last line had no line break
            self._partial = ""
        out: list[tuple[int, list[str]]] = []
        for line in lines:
            if not self._group and not line.strip():
                self._line += 1  # a blank line between records
                continue
            self._group.append(line)
            if line.count('"') % 2:
                self._odd = not self._odd
            if not self._odd:
                self._parse(out)
        if final and self._group:
            self._parse(out)  # an unclosed quote at the end: csv keeps what it has
        return out

    def _parse(self, out: list[tuple[int, list[str]]]) -> None:
        reader = csv.reader(self._group)
        start = 0
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    out.append((self._line + start, cells))
                start = reader.line_num
        except csv.Error as error:
            raise DomainError(
                f"line {self._line + start}: not CSV ({error})", field="body"
            ) from error
        self._line += len(self._group)
        self._group.clear()
        self._odd = False


def check_header(cells: Sequence[str]) -> list[str]:
    """The column names, or a 422 saying what is wrong with the header and what is expected."""
    names = [cell.strip().lower() for cell in cells]
    problems = []
    unknown = list(dict.fromkeys(name for name in names if name and name not in COLUMNS))
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    unnamed = [str(i + 1) for i, name in enumerate(names) if not name]
    if unnamed:
        problems.append(f"column(s) without a name at position {', '.join(unnamed)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    if problems:
        raise DomainError(
            "bad header: " + "; ".join(problems) + f". Columns: {', '.join(COLUMNS)}; "
            f"required: {', '.join(REQUIRED)}",
            field="header",
            unknown=unknown or None,
            missing=missing or None,
            expected=list(COLUMNS),
        )
    return names


# --- one row -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str
    existing_person_id: str | None = None


@dataclass(frozen=True)
class Row:
    person: PersonIn
    household_code: str | None
    monthly_income: int | None


def _withhold(reason: str, value: str | None) -> str:
    """Cut a cell's value (and a date made of it) out of a message that quotes it."""
    if value:
        reason = reason.replace(repr(value), "").replace(value, "")
    reason = re.sub(r"\d{4}-\d{2}-\d{2}", "", reason)
    return re.sub(r"\s{2,}", " ", reason).strip()


def _problems(error: ValidationError, cells: dict[str, str]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or "row"
        if item["type"] == "missing":
            reason = "required: the cell is empty"
        else:
            reason = item["msg"].removeprefix("Value error, ")
        column = name.rsplit(".", 1)[-1]
        if column in _PERSONAL:
            reason = _withhold(reason, cells.get(column))
        problems.append(Problem(name, reason[:_REASON_MAX]))
    return problems


def parse_row(columns: Sequence[str], cells: Sequence[str]) -> Row | list[Problem]:
    """Map one record to PersonIn (the one validation of a person) and the household cells."""
    if len(cells) != len(columns):
        return [Problem("row", f"{len(cells)} cells, but the header has {len(columns)}")]
    given = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
    given = {name: value for name, value in given.items() if value}  # empty = not given
    body: dict[str, Any] = {
        k: v for k, v in given.items() if k not in _ADDRESS and k not in _HOUSEHOLD
    }
    body["address"] = {k: v for k, v in given.items() if k in _ADDRESS}
    problems: list[Problem] = []
    person = None
    try:
        person = PersonIn.model_validate(body)
    except ValidationError as error:
        problems += _problems(error, given)
    code = income = None
    cells_of_household = {k: v for k, v in given.items() if k in _HOUSEHOLD}
    if cells_of_household:
        try:
            # The household's province is the person's; a placeholder stands in here so
            # HouseholdIn checks only the household's own cells.
            household = HouseholdIn.model_validate({**cells_of_household, "province_code": "00"})
            code, income = household.household_code, household.monthly_income
        except ValidationError as error:
            problems += _problems(error, given)
        if "monthly_income" in given and "household_code" not in given:
            problems.append(
                Problem("monthly_income", "an income needs a household_code on the same row")
            )
    if problems or person is None:
        return problems
    return Row(person, code, income)


# --- upload ------------------------------------------------------------------------------


async def create_job(
    db: Database, actor: str, file_name: str, stream: AsyncIterator[bytes]
) -> ImportJob:
    """Store an uploaded CSV as chunks and queue its import; 422 on a bad header or encoding.

    Each chunk commits on its own, so a slow upload never holds a transaction (SQLite has one
    connection per service); the job row comes last, so a job is never seen half uploaded.
    """
    import_id = str(uuid.uuid4())
    records = Records()
    digest = hashlib.sha256()
    size = rows = stored = 0
    columns: list[str] | None = None
    pending = bytearray()

    def count(found: list[tuple[int, list[str]]]) -> None:
        nonlocal columns, rows
        for _, cells in found:
            if columns is None:
                columns = check_header(cells)
            else:
                rows += 1

    try:
        async for piece in stream:
            if not piece:
                continue
            size += len(piece)
            if size > MAX_FILE_BYTES:
                raise DomainError(
                    f"the file is larger than {MAX_FILE_BYTES >> 20} MiB; split it", field="body"
                )
            digest.update(piece)
            count(records.feed(piece))
            if columns is None and records.buffered > MAX_HEADER_BYTES:
                raise DomainError(
                    f"no header line in the first {MAX_HEADER_BYTES >> 10} KiB", field="header"
                )
            pending += piece
            while len(pending) >= CHUNK_BYTES:
                await _store_chunk(db, import_id, stored, bytes(pending[:CHUNK_BYTES]))
                del pending[:CHUNK_BYTES]
                stored += 1
        count(records.feed(b"", final=True))
        if columns is None:
            raise DomainError(
                f"the file is empty: expected a header row ({', '.join(COLUMNS)})",
                field="header",
            )
        job = ImportJob(
            import_id=import_id,
            file_name=file_name,
            sha256=digest.hexdigest(),
            size_bytes=size,
            status="queued",
            actor=actor,
            created_at=datetime.now(UTC),
            rows_total=rows,
        )
        async with db.transaction() as session:
            if pending:
                session.add(ImportChunk(import_id=import_id, seq=stored, data=bytes(pending)))
            session.add(job)
    except BaseException:
        if stored:
            await _discard_chunks(db, import_id)
        raise
    log.info("import %s queued: %s, %d rows, %d bytes", import_id, file_name, rows, size)
    wake_event(db).set()
    return job


async def _store_chunk(db: Database, import_id: str, seq: int, data: bytes) -> None:
    async with db.transaction() as session:
        session.add(ImportChunk(import_id=import_id, seq=seq, data=data))


async def _discard_chunks(db: Database, import_id: str) -> None:
    try:
        async with db.transaction() as session:
            await session.exec(delete(ImportChunk).where(col(ImportChunk.import_id) == import_id))
    except Exception:  # best effort: orphan chunks are only wasted space
        log.exception("import %s: could not discard the chunks of a failed upload", import_id)


async def _stored_records(db: Database, import_id: str) -> AsyncGenerator[tuple[int, list[str]]]:
    """The job's records in order, one chunk read (in its own short transaction) at a time."""
    records = Records()
    seq = 0
    while True:
        async with db.transaction() as session:
            data = (
                await session.exec(
                    select(ImportChunk.data).where(
                        ImportChunk.import_id == import_id, ImportChunk.seq == seq
                    )
                )
            ).first()
        if data is None:
            break
        for record in records.feed(data):
            yield record
        seq += 1
    for record in records.feed(b"", final=True):
        yield record


# --- one batch -----------------------------------------------------------------------------


@dataclass
class FileState:
    """What accepted rows of the file decided that later rows must know (rebuilt on resume)."""

    columns: list[str]
    seen: dict[str, int] = field(default_factory=dict)  # national ID -> line that had it
    incomes: dict[str, tuple[int, int]] = field(default_factory=dict)  # code -> income, line

    def accept(self, line: int, row: Row) -> None:
        self.seen.setdefault(row.person.national_id, line)
        if row.household_code is not None and row.monthly_income is not None:
            self.incomes.setdefault(row.household_code, (row.monthly_income, line))

    def replay(self, line: int, cells: list[str]) -> None:
        """An accepted row of an earlier run, skipped on resume."""
        row = parse_row(self.columns, cells)
        if isinstance(row, Row):
            self.accept(line, row)


@dataclass
class _Household:
    household_id: str
    monthly_income: int | None
    row: dict[str, Any] | None = None  # a new household: its row, kept up to date
    income: dict[str, Any] | None = None  # an existing one whose income changed: new values


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    flagged: int = 0


class Batch:
    """One batch's effects, gathered as plain rows and written with a few bulk inserts.

    Building ORM objects costs ~0.2 ms each here (SQLModel validates on construction), more
    than the rest of a row's work; so people go through people.plan_registration (the rules
    POST /people uses) and everything is inserted from dicts. Households are written the way
    handlers/households.py writes them (same events, audit actions and income bands).
    """

    def __init__(
        self,
        *,
        actor: str,
        import_id: str,
        state: FileState,
        settings: RegistrySettings,
        now: datetime,
    ) -> None:
        self.actor, self.import_id, self.state = actor, import_id, state
        self.settings, self.now = settings, now
        self.counts = Counts()
        self.accepted: list[tuple[int, Row]] = []
        self.people: list[dict[str, Any]] = []
        self.flags: list[dict[str, Any]] = []
        self.new_households: list[dict[str, Any]] = []
        self.incomes: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.rejections: list[dict[str, Any]] = []
        self.joins: list[tuple[str, str]] = []  # existing people: (household id, person id)
        self.households: dict[str, _Household] = {}
        self.known = people.Known()
        self._seen: dict[str, int] = {}
        self._incomes: dict[str, tuple[int, int]] = {}
        self._carrier = "{}"

    async def run(self, session: AsyncSession, records: Sequence[tuple[int, list[str]]]) -> None:
        self._carrier = json.dumps(current_carrier())  # one trace context for the batch
        parsed: list[tuple[int, Row]] = []
        for line, cells in records:
            row = parse_row(self.state.columns, cells)
            if isinstance(row, Row):
                parsed.append((line, row))
            else:
                self.reject(line, row)
        self.counts.rows = len(records)
        self.known = await people.Known.load(session, [row.person for _, row in parsed])
        await self._load_households(session, {r.household_code for _, r in parsed})
        for line, row in parsed:
            self.apply(line, row)

    async def _load_households(self, session: AsyncSession, codes: set[str | None]) -> None:
        wanted = sorted(code for code in codes if code)
        for start in range(0, len(wanted), 500):
            found = await session.exec(
                select(
                    Household.household_code, Household.household_id, Household.monthly_income
                ).where(col(Household.household_code).in_(wanted[start : start + 500]))
            )
            for code, household_id, income in found:
                self.households[code or ""] = _Household(household_id, income)

    # rules of one row, in memory: a rejected row leaves nothing behind

    def apply(self, line: int, row: Row) -> None:
        national_id, code = row.person.national_id, row.household_code
        first = self.state.seen.get(national_id) or self._seen.get(national_id)
        if first is not None:
            self.reject(line, [Problem("national_id", f"duplicate of line {first} in this file")])
            return
        if code is not None and row.monthly_income is not None:
            earlier = self.state.incomes.get(code) or self._incomes.get(code)
            if earlier is not None and earlier[0] != row.monthly_income:
                self.reject(
                    line,
                    [
                        Problem(
                            "monthly_income",
                            f"differs from line {earlier[1]} for the same household_code",
                        )
                    ],
                )
                return
        try:
            plan = people.plan_registration(row.person, self.known, now=self.now)
        except Conflict as conflict:
            self._existing(line, row, str(conflict.context.get("existing_person_id")))
            return
        except DomainError as error:
            self.reject(line, [Problem(error.field or "row", error.message[:_REASON_MAX])])
            return
        self.known.remember(plan)
        self.people.append(plan.person)
        self.flags += plan.flags
        self._event(plan.event)
        self._audit(**plan.audit)
        if code is not None:
            household = self.households.get(code) or self._new_household(code, row.person)
            self._join(household, plan.person)
            self._income(household, row.monthly_income)
        self.counts.created += 1
        self.counts.flagged += bool(plan.flags)
        self._accept(line, row)

    def _existing(self, line: int, row: Row, person_id: str) -> None:
        holder = self.known.by_national_id.get(row.person.national_id)
        if holder is None:  # registered earlier in this batch: caught as a duplicate above
            self.reject(line, [Problem("national_id", "already registered", person_id)])
            return
        # Only what the row states is compared: an empty cell says nothing about a phone
        # number registered since, say.
        stated = row.person.model_fields_set | row.person.address.model_fields_set
        differs = [
            f"address.{name}" if name in _ADDRESS else name
            for name, value in people.person_values(row.person).items()
            if name in stated and holder[name] != value
        ]
        if differs:
            self.reject(
                line,
                [
                    Problem(
                        "national_id",
                        "already registered with other data "
                        f"({', '.join(differs)}); an import does not change people",
                        holder["person_id"],
                    )
                ],
            )
            return
        code = row.household_code
        if code is not None:
            household = self.households.get(code)
            if holder["household_id"] is not None and (
                household is None or household.household_id != holder["household_id"]
            ):
                self.reject(
                    line,
                    [
                        Problem(
                            "household_code",
                            f"the person is in household {holder['household_id']}; "
                            "remove them from it first",
                            holder["person_id"],
                        )
                    ],
                )
                return
            household = household or self._new_household(code, row.person)
            if holder["household_id"] is None:
                self.joins.append((household.household_id, holder["person_id"]))
            self._income(household, row.monthly_income)
        self.counts.unchanged += 1
        self._accept(line, row)

    def _accept(self, line: int, row: Row) -> None:
        self.accepted.append((line, row))
        self._seen.setdefault(row.person.national_id, line)
        if row.household_code is not None and row.monthly_income is not None:
            self._incomes.setdefault(row.household_code, (row.monthly_income, line))

    def reject(self, line: int, problems: Iterable[Problem]) -> None:
        self.counts.rejected += 1
        self.rejections += [
            {
                "import_id": self.import_id,
                "line": line,
                "field": p.field[:50],
                "reason": p.reason[:_REASON_MAX],
                "existing_person_id": p.existing_person_id,
            }
            for p in problems
        ]

    # the household side, as handlers/households.py does it (register, add_member, income)

    def _new_household(self, code: str, person: PersonIn) -> _Household:
        household_id = str(uuid.uuid4())
        province, village = person.address.province_code, person.address.village_code
        row = {
            "household_id": household_id,
            "household_code": code,
            "province_code": province,
            "village_code": village,
            "monthly_income": None,
            "income_band": None,
            "low_income": None,
            "registered_at": self.now,
        }
        self.new_households.append(row)
        household = self.households[code] = _Household(household_id, None, row=row)
        self._event(
            HouseholdRegistered(
                household_id=household_id,
                province_code=province,
                village_code=village,
                registered_at=self.now,
            )
        )
        self._audit(
            action="household.registered",
            entity_type="household",
            entity_id=household_id,
            fields=["household_code", "province_code"] + (["village_code"] if village else []),
        )
        return household

    def _join(self, household: _Household, person: dict[str, Any]) -> None:
        """A person registered in this batch joins: nobody else can hold them yet."""
        person["household_id"] = household.household_id
        self._event(
            HouseholdMemberJoined(
                household_id=household.household_id,
                person_id=person["person_id"],
                joined_at=self.now,
            )
        )
        self._audit(
            action="household.member-joined",
            entity_type="household",
            entity_id=household.household_id,
            fields=["members"],
            detail=f"person {person['person_id']}",
        )

    def _income(self, household: _Household, income: int | None) -> None:
        if income is None or income == household.monthly_income:
            return
        band = domain.income_band(income, self.settings.income_band_edges)
        low = domain.is_low_income(income, self.settings.low_income_threshold)
        values = {"monthly_income": income, "income_band": band.label, "low_income": low}
        household.monthly_income = income
        if household.row is not None:
            household.row.update(values)
        else:
            household.income = values
        self.incomes.append(
            {
                "household_id": household.household_id,
                **values,
                "recorded_at": self.now,
                "recorded_by": self.actor,
            }
        )
        self._event(
            HouseholdIncomeRecorded(
                household_id=household.household_id,
                income_band=band.label,
                band_floor=band.floor,
                band_ceiling=band.ceiling,
                low_income=low,
                recorded_at=self.now,
            )
        )
        self._audit(
            action="household.income-recorded",
            entity_type="household",
            entity_id=household.household_id,
            fields=["monthly_income"],
        )

    # rows as shared.outbox.stage and audit.record would write them

    def _event(self, event: Event) -> None:
        record = encode(event, source=SOURCE)
        self.outbox.append(
            {
                "event_id": record.headers["ce_id"],
                "topic": event.topic(),
                "key": record.key.decode(),
                "ce_type": event.ce_type(),
                "headers": json.dumps(record.headers),
                "value": record.value.decode(),
                "trace_carrier": self._carrier,
                "created_at": self.now,
                "published_at": None,
            }
        )

    def _audit(
        self,
        *,
        action: str,
        entity_type: str,
        entity_id: str,
        fields: Iterable[str] = (),
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        self.audit.append(
            {
                "at": at or self.now,
                "actor": self.actor,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "fields": ",".join(sorted(fields)),
                "detail": detail,
            }
        )

    async def write(self, session: AsyncSession) -> None:
        """Insert what the batch gathered (after a statement has begun the transaction)."""
        conn = await session.connection()
        # Households before income records (foreign key); the rest in any order.
        for table, rows in (
            (Household, self.new_households),
            (Person, self.people),
            (DuplicateFlag, self.flags),
            (IncomeRecord, self.incomes),
            (Outbox, self.outbox),
            (AuditEntry, self.audit),
            (ImportRejection, self.rejections),
        ):
            if rows:
                await _insert(conn, table, rows)
        changed = [
            {"b_id": h.household_id, **{f"b_{k}": v for k, v in h.income.items()}}
            for h in self.households.values()
            if h.income is not None
        ]
        if changed:
            await conn.execute(
                update(Household)
                .where(col(Household.household_id) == bindparam("b_id"))
                .values(
                    monthly_income=bindparam("b_monthly_income"),
                    income_band=bindparam("b_income_band"),
                    low_income=bindparam("b_low_income"),
                ),
                changed,
            )
            # Members of these (existing) households may have consented to share the income.
            members = await session.exec(
                select(Person.person_id).where(
                    col(Person.household_id).in_([c["b_id"] for c in changed]),
                    Person.status == "active",
                )
            )
            await sharing.reshare(session, members.all(), ["monthly_income"])
        if self.outbox:
            session.info[STAGED_EVENTS] = True  # wakes the outbox relay after the commit
        for household_id, person_id in self.joins:  # rare: the full rule, with its lock
            await household_handlers.add_member(
                session, self.actor, household_id, person_id, now=self.now
            )

    def merge_into(self, state: FileState) -> None:
        """After the commit: what this batch accepted is now part of the file's past."""
        for line, row in self.accepted:
            state.accept(line, row)


async def _insert(conn: AsyncConnection, table: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        # COPY takes half the time of multi-row INSERTs here. It runs on the driver's
        # connection, inside the transaction the job's UPDATE has already begun.
        names = list(rows[0])
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # an open connection
        await driver.copy_records_to_table(
            table.__tablename__,
            records=[tuple(row[name] for name in names) for row in rows],
            columns=names,
        )
    else:
        await conn.execute(insert(table), rows)


# --- the worker ------------------------------------------------------------------------------


class LostJob(RuntimeError):
    """Another worker advanced the job: this one's batch is rolled back and it lets go."""


class ImportWorker:
    """Runs queued jobs and resumes interrupted ones (status running), one batch per commit."""

    def __init__(
        self,
        db: Database,
        settings: RegistrySettings,
        wake: asyncio.Event | None = None,
        *,
        poll_seconds: float = 5.0,
    ) -> None:
        self.db, self.settings = db, settings
        self.wake = wake or wake_event(db)
        self.poll_seconds = poll_seconds  # jobs queued on another replica are found this way
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                for import_id in await self._active():
                    try:
                        await self.process(import_id)
                    except LostJob:
                        log.info("import %s: another worker took it over", import_id)
                    except Exception as error:
                        log.exception("import %s: attempt failed", import_id)
                        await self._failed(import_id, error)
            except Exception:  # e.g. the database is down: try again later
                log.exception("import worker: could not look for jobs")
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)

    async def _active(self) -> list[str]:
        async with self.db.transaction() as session:
            query = (
                select(ImportJob.import_id)
                .where(col(ImportJob.status).in_(ACTIVE))
                .order_by(col(ImportJob.created_at))
            )
            return list((await session.exec(query)).all())

    async def process(self, import_id: str) -> None:
        async with self._lease(import_id) as held:
            if not held:
                return
            job = await self._start(import_id)
            if job is not None:
                await self._resume(job)

    @asynccontextmanager
    async def _lease(self, import_id: str) -> AsyncIterator[bool]:
        """PostgreSQL: one worker per job across replicas, released if its process dies.

        A session advisory lock on a connection of its own; the connection is discarded at
        the end, never pooled, so the lock cannot outlive the job. SQLite: one process.
        """
        if is_sqlite(self.db.url):
            yield True
            return
        key = func.hashtextextended(f"registry:import:{import_id}", 0)
        conn = await self.db.engine.connect()
        try:
            held = bool((await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar())
            await conn.commit()
            yield held
        finally:
            await conn.invalidate()
            await conn.close()

    async def _start(self, import_id: str) -> ImportJob | None:
        async with self.db.transaction() as session:
            job = await session.get(ImportJob, import_id)
            if job is None or job.status not in ACTIVE:
                return None
            if job.status == "queued":
                job.status, job.started_at = "running", datetime.now(UTC)
                session.add(job)
            return job

    async def _resume(self, job: ImportJob) -> None:
        async with aclosing(_stored_records(self.db, job.import_id)) as records:
            await self._run(job, records)

    async def _run(self, job: ImportJob, records: AsyncIterator[tuple[int, list[str]]]) -> None:
        header = await anext(records, None)
        if header is None:
            raise DomainError("the stored file has no header", field="header")
        state = FileState(check_header(header[1]))
        done = job.rows_done
        if done:
            rejected = await self._rejected_lines(job.import_id)
            for _ in range(done):
                record = await anext(records, None)
                if record is None:
                    break
                if record[0] not in rejected:
                    state.replay(*record)
            log.info("import %s: resuming after %d of %s rows", job.import_id, done, job.rows_total)
        started, since = time.monotonic(), done
        while batch := await _take(records, self.settings.import_batch_rows):
            counts = await self._commit(job, state, batch, done)
            done += counts.rows
            self._failures.pop(job.import_id, None)
            job.rows_done = done
            for name in ("created", "unchanged", "rejected", "flagged"):
                setattr(job, name, getattr(job, name) + getattr(counts, name))
            rate = (done - since) / max(time.monotonic() - started, 1e-9)
            total = job.rows_total or done
            log.info(
                "import %s: %d/%d rows (%.1f%%), %.0f rows/s; created %d, unchanged %d, "
                "rejected %d, flagged %d",
                job.import_id,
                done,
                total,
                100 * done / max(total, 1),
                rate,
                job.created,
                job.unchanged,
                job.rejected,
                job.flagged,
            )
        async with self.db.transaction() as session:
            await session.exec(
                update(ImportJob)
                .where(col(ImportJob.import_id) == job.import_id)
                .values(status="done", finished_at=datetime.now(UTC))
            )
        log.info(
            "import %s done: %d rows; created %d, unchanged %d, rejected %d, flagged %d",
            job.import_id,
            done,
            job.created,
            job.unchanged,
            job.rejected,
            job.flagged,
        )

    async def _rejected_lines(self, import_id: str) -> set[int]:
        async with self.db.transaction() as session:
            query = select(ImportRejection.line).where(ImportRejection.import_id == import_id)
            return set((await session.exec(query)).all())

    async def _commit(
        self, job: ImportJob, state: FileState, records: list[tuple[int, list[str]]], done: int
    ) -> Counts:
        for attempt in range(1, _ATTEMPTS + 1):
            batch = Batch(
                actor=job.actor,
                import_id=job.import_id,
                state=state,
                settings=self.settings,
                now=datetime.now(UTC),
            )
            try:
                async with self.db.transaction() as session:
                    with _tracer.start_as_current_span(
                        "registry import batch",
                        attributes={"import.id": job.import_id, "import.first_row": done + 1},
                    ):
                        await batch.run(session, records)
                        # Counters first: a second worker fails here, before any insert.
                        await _advance(session, job.import_id, done, batch.counts)
                        await batch.write(session)
            except IntegrityError:
                # Someone registered one of these people or households meanwhile: read again.
                if attempt == _ATTEMPTS:
                    raise
                log.info(
                    "import %s: batch at row %d raced a writer; redoing it", job.import_id, done
                )
                continue
            batch.merge_into(state)
            return batch.counts
        raise AssertionError("unreachable")

    async def _failed(self, import_id: str, error: Exception) -> None:
        tries = self._failures[import_id] = self._failures.get(import_id, 0) + 1
        if tries < _ATTEMPTS:
            return  # the next pass retries from the last committed batch
        self._failures.pop(import_id, None)
        try:
            async with self.db.transaction() as session:
                await session.exec(
                    update(ImportJob)
                    .where(col(ImportJob.import_id) == import_id)
                    .values(
                        status="failed",
                        finished_at=datetime.now(UTC),
                        error=f"{type(error).__name__}: {error}"[:2000],
                    )
                )
        except Exception:
            log.exception("import %s: could not record the failure", import_id)


async def _advance(session: AsyncSession, import_id: str, done: int, counts: Counts) -> None:
    """The job's counters move in the batch's transaction, only from where this worker read."""
    result = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.import_id) == import_id, col(ImportJob.rows_done) == done)
        .values(
            rows_done=col(ImportJob.rows_done) + counts.rows,
            created=col(ImportJob.created) + counts.created,
            unchanged=col(ImportJob.unchanged) + counts.unchanged,
            rejected=col(ImportJob.rejected) + counts.rejected,
            flagged=col(ImportJob.flagged) + counts.flagged,
        )
    )
    if result.rowcount != 1:
        raise LostJob(import_id)


async def _take(
    records: AsyncIterator[tuple[int, list[str]]], size: int
) -> list[tuple[int, list[str]]]:
    batch = []
    async for record in records:
        batch.append(record)
        if len(batch) >= size:
            break
    return batch


async def run_worker(
    db: Database,
    settings: RegistrySettings,
    wake: asyncio.Event | None = None,
    *,
    poll_seconds: float = 5.0,
) -> None:
    """The long-running job for Service.background."""
    await ImportWorker(db, settings, wake, poll_seconds=poll_seconds).run()


# --- reading -----------------------------------------------------------------------------


async def get_job(session: AsyncSession, import_id: str) -> ImportJob:
    job = await session.get(ImportJob, import_id)
    if job is None:
        raise NotFound(f"no import {import_id}", field="import_id")
    return job


async def list_jobs(
    session: AsyncSession, *, status: str | None = None, limit: int = 50
) -> list[ImportJob]:
    """Newest first."""
    query = select(ImportJob)
    if status:
        query = query.where(ImportJob.status == status)
    query = query.order_by(col(ImportJob.created_at).desc()).limit(limit)
    return list((await session.exec(query)).all())


@dataclass(frozen=True)
class RejectionPage:
    rejections: list[ImportRejection]
    next_after_line: int | None  # None: this was the last page


async def rejections(
    session: AsyncSession, import_id: str, *, after_line: int = 0, limit: int = 1000
) -> RejectionPage:
    """Up to `limit` rejected lines after `after_line`, each with all its entries."""
    await get_job(session, import_id)
    lines = (
        await session.exec(
            select(ImportRejection.line)
            .where(ImportRejection.import_id == import_id, col(ImportRejection.line) > after_line)
            .distinct()
            .order_by(col(ImportRejection.line))
            .limit(limit)
        )
    ).all()
    if not lines:
        return RejectionPage([], None)
    found = await session.exec(
        select(ImportRejection)
        .where(
            ImportRejection.import_id == import_id,
            col(ImportRejection.line) > after_line,
            col(ImportRejection.line) <= lines[-1],
        )
        .order_by(col(ImportRejection.line), col(ImportRejection.id))
    )
    return RejectionPage(list(found.all()), lines[-1] if len(lines) == limit else None)
