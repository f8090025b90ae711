"""One batch of rows applied: the rules of each row in memory, then a few bulk inserts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, domain
from services.registry.handlers import consent as consent_handlers
from services.registry.handlers import households as household_handlers
from services.registry.handlers import people, sharing
from services.registry.handlers.common import SOURCE, Change
from services.registry.handlers.imports.rows import ADDRESS, REASON_MAX, Problem, Row, parse_row
from services.registry.schemas import PersonIn
from services.registry.settings import RegistrySettings
from services.registry.tables import (
    AuditEntry,
    Consent,
    DuplicateFlag,
    Household,
    ImportPerson,
    ImportRejection,
    IncomeRecord,
    Outbox,
    Person,
)
from shared.db import STAGED_EVENTS
from shared.errors import Conflict, DomainError
from shared.outbox import outbox_row
from shared.telemetry import current_carrier


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
    POST /people uses) and everything is inserted from dicts. Events and audit entries come
    from the functions the single commands use (households.registered, joined,
    income_recorded; shared.outbox.outbox_row, audit.entry), so both paths write the same rows.
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
        self.consents: list[dict[str, Any]] = []
        self.row_people: list[dict[str, Any]] = []  # line -> person id, for GET .../people
        self.flags: list[dict[str, Any]] = []
        self.new_households: list[dict[str, Any]] = []
        self.incomes: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.rejections: list[dict[str, Any]] = []
        self.joins: list[tuple[str, str]] = []  # existing people: (household id, person id)
        self.households: dict[str, _Household] = {}
        self.known = people.Known()
        self.live_purposes: dict[str, set[str]] = {}  # registered person id -> live consents
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
        await self._load_consents(session, [row for _, row in parsed if row.person.consents])
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

    async def _load_consents(self, session: AsyncSession, rows: list[Row]) -> None:
        """The live consents' purposes of registered people whose rows give consents."""
        holders = (self.known.by_national_id.get(row.person.national_id) for row in rows)
        ids = sorted({str(h["person_id"]) for h in holders if h is not None})
        for start in range(0, len(ids), 500):
            found = await session.exec(
                select(Consent.person_id, Consent.purpose).where(
                    col(Consent.person_id).in_(ids[start : start + 500]),
                    col(Consent.withdrawn_at).is_(None),
                    or_(col(Consent.expires_at).is_(None), col(Consent.expires_at) > self.now),
                )
            )
            for person_id, purpose in found:
                self.live_purposes.setdefault(person_id, set()).add(purpose)

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
            self.reject(line, [Problem(error.field or "row", error.message[:REASON_MAX])])
            return
        self.known.remember(plan)
        self.people.append(plan.person)
        self.flags += plan.flags
        self._add(plan.change)
        for grant in row.person.consents:
            # Only a purpose: no lender to look up, no expiry, no data categories, so
            # nothing for sharing.share to hand to funding (as POST /people would find).
            consent, change = consent_handlers.planned(plan.person_id, grant, self.now)
            self.consents.append(consent)
            self._add(change)
        if code is not None:
            household = self.households.get(code) or self._new_household(code, row.person)
            self._join(household, plan.person)
            self._income(household, row.monthly_income)
        self.counts.created += 1
        self.counts.flagged += bool(plan.flags)
        self._accept(line, row, plan.person_id, "created")

    def _existing(self, line: int, row: Row, person_id: str) -> None:
        holder = self.known.by_national_id.get(row.person.national_id)
        if holder is None:  # registered earlier in this batch: caught as a duplicate above
            self.reject(line, [Problem("national_id", "already registered", person_id)])
            return
        # Only what the row states is compared: an empty cell says nothing about a phone
        # number registered since, say.
        stated = row.person.model_fields_set | row.person.address.model_fields_set
        differs = [
            f"address.{name}" if name in ADDRESS else name
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
        unconsented = sorted(
            {c.purpose for c in row.person.consents}
            - self.live_purposes.get(holder["person_id"], set())
        )
        if unconsented:
            self.reject(
                line,
                [
                    Problem(
                        "consents",
                        f"already registered without a live consent for {', '.join(unconsented)};"
                        " an import does not grant consents to registered people "
                        "(POST /people/{person_id}/consents)",
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
        self._accept(line, row, holder["person_id"], "unchanged")

    def _accept(self, line: int, row: Row, person_id: str, outcome: str) -> None:
        self.accepted.append((line, row))
        self.row_people.append(
            {"import_id": self.import_id, "line": line, "person_id": person_id, "outcome": outcome}
        )
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
                "reason": p.reason[:REASON_MAX],
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
        given = ["household_code", "province_code"] + (["village_code"] if village else [])
        self._add(household_handlers.registered(household_id, province, village, given, self.now))
        return household

    def _join(self, household: _Household, person: dict[str, Any]) -> None:
        """A person registered in this batch joins: nobody else can hold them yet."""
        person["household_id"] = household.household_id
        self._add(household_handlers.joined(household.household_id, person["person_id"], self.now))

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
        self._add(household_handlers.income_recorded(household.household_id, band, low, self.now))

    def _add(self, change: Change) -> None:
        """The change's outbox and audit rows, built as a single command builds them."""
        self.outbox.append(
            outbox_row(change.event, source=SOURCE, carrier=self._carrier, at=self.now)
        )
        self.audit.append(audit.entry(actor=self.actor, **change.audit))

    async def write(self, session: AsyncSession) -> None:
        """Insert what the batch gathered (after a statement has begun the transaction)."""
        conn = await session.connection()
        # Households before income records (foreign key); the rest in any order.
        for table, rows in (
            (Household, self.new_households),
            (Person, self.people),
            (Consent, self.consents),
            (DuplicateFlag, self.flags),
            (IncomeRecord, self.incomes),
            (Outbox, self.outbox),
            (AuditEntry, self.audit),
            (ImportRejection, self.rejections),
            (ImportPerson, self.row_people),
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
