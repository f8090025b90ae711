"""Reading the CSV: records out of bytes in any pieces, the header, one row to a PersonIn."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.registry.handlers import people
from services.registry.schemas import HouseholdIn, PersonIn
from shared.errors import DomainError

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
    "consents",
)
REQUIRED: tuple[str, ...] = ("national_id", "first_name_th", "last_name_th", "province_code")
ADDRESS = frozenset(people.ADDRESS_FIELDS)
_HOUSEHOLD = frozenset({"household_code", "monthly_income"})
CONSENT_SEPARATOR = ";"
# Rejection reasons never keep personal data: these fields' values are cut from messages.
_PERSONAL = frozenset(people.PERSONAL_FIELDS)
REASON_MAX = 500


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
        problems.append(Problem(name, reason[:REASON_MAX]))
    return problems


def parse_row(columns: Sequence[str], cells: Sequence[str]) -> Row | list[Problem]:
    """Map one record to PersonIn (the one validation of a person) and the household cells."""
    if len(cells) != len(columns):
        return [Problem("row", f"{len(cells)} cells, but the header has {len(columns)}")]
    given = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
    given = {name: value for name, value in given.items() if value}  # empty = not given
    body: dict[str, Any] = {
        k: v for k, v in given.items() if k not in ADDRESS and k not in _HOUSEHOLD
    }
    body["address"] = {k: v for k, v in given.items() if k in ADDRESS}
    if "consents" in given:
        body["consents"] = _consents(given["consents"])
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
    problems += _repeated_purposes(given.get("consents"))
    if problems or person is None:
        return problems
    return Row(person, code, income)


def _consents(cell: str) -> list[dict[str, str]]:
    """ "loan-referral;other" -> [{"purpose": ...}, ...]: POST /people's consents, each with
    only a purpose (any partner lender, no data shared, no expiry)."""
    purposes = (part.strip() for part in cell.split(CONSENT_SEPARATOR))
    return [{"purpose": purpose} for purpose in purposes if purpose]


def _repeated_purposes(cell: str | None) -> list[Problem]:
    purposes = [c["purpose"] for c in _consents(cell or "")]
    repeated = sorted({p for p in purposes if purposes.count(p) > 1})
    if not repeated:
        return []
    return [Problem("consents", f"purpose(s) given more than once: {', '.join(repeated)}")]
