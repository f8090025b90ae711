"""Registry CSV import, without I/O: reading records, the header, mapping a row, row rules."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from stdnum.th import pin

from services.registry.handlers import imports, people
from services.registry.handlers.imports import Batch, FileState, Problem, Records, Row
from services.registry.settings import RegistrySettings
from shared.errors import DomainError

COLUMNS = list(imports.COLUMNS)
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def national_id(serial: int) -> str:
    body = f"31017{serial:07d}"
    return body + pin.calc_check_digit(body)


def cells(**given: str) -> list[str]:
    row = {
        "national_id": national_id(1),
        "first_name_th": "มาลี",
        "last_name_th": "ศรีสุข",
        "birth_date": "12/05/2530",
        "province_code": "34",
    }
    row.update(given)
    return [row.get(name, "") for name in COLUMNS]


def read_all(data: bytes, piece: int) -> list[tuple[int, list[str]]]:
    records = Records()
    out = []
    for start in range(0, len(data), piece):
        out += records.feed(data[start : start + piece])
    return out + records.feed(b"", final=True)


# --- records --------------------------------------------------------------------------------

TRICKY = (
    "\ufeffnational_id,first_name_th,street\r\n"
    '1,มาลี,"ซอย 5, ถนน\r\nมิตรภาพ"\r\n'
    "\r\n"
    ",,\n"
    '2,"สม""ชาย""",x\n'
    "3,วันดี,last line without a break"
).encode()


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_records_do_not_depend_on_where_the_pieces_are_cut(piece: int) -> None:
    assert read_all(TRICKY, piece) == [
        (1, ["national_id", "first_name_th", "street"]),  # the byte-order mark is gone
        (2, ["1", "มาลี", "ซอย 5, ถนน\r\nมิตรภาพ"]),  # a quoted line break stays in the cell
        (6, ["2", 'สม"ชาย"', "x"]),  # blank line 4 and empty row 5 skipped, lines still counted
        (7, ["3", "วันดี", "last line without a break"]),
    ]


def test_records_agree_with_the_csv_module_on_a_generated_file() -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    rows = [
        [f"{i}", "ชื่อ, กับจุลภาค" if i % 3 else 'มี "คำพูด"', "บรรทัด\nใหม่" * (i % 2)] for i in range(200)
    ]
    writer.writerows(rows)
    got = [cells for _, cells in read_all(text.getvalue().encode(), 97)]
    assert got == rows


def test_not_utf8_is_refused_with_where() -> None:
    with pytest.raises(DomainError) as error:
        read_all(b"national_id\n1," + "มาลี".encode("tis-620"), 4)
    assert error.value.field == "body"
    assert "not UTF-8" in error.value.message and "line 2" in error.value.message


# --- header ----------------------------------------------------------------------------------


def test_header_is_case_and_space_insensitive_in_any_order() -> None:
    given = [" Province_Code", "LAST_NAME_TH ", "first_name_th", "national_id"]
    assert imports.check_header(given) == [
        "province_code",
        "last_name_th",
        "first_name_th",
        "national_id",
    ]


def test_header_says_what_is_unknown_missing_or_repeated() -> None:
    with pytest.raises(DomainError) as error:
        imports.check_header(["national_id", "first_name_th", "first_name_th", "nickname", ""])
    message = error.value.message
    assert error.value.field == "header"
    assert "unknown column(s) nickname" in message
    assert "repeated column(s) first_name_th" in message
    assert "missing required column(s) last_name_th, province_code" in message
    assert "without a name at position 5" in message
    assert error.value.context["expected"] == COLUMNS


# --- one row ---------------------------------------------------------------------------------


def test_row_maps_to_person_address_and_household() -> None:
    row = imports.parse_row(
        COLUMNS,
        cells(
            national_id=pin.format(national_id(1)),  # dashes as printed on the card
            first_name_en=" Malee ",
            house_no="99/1",
            district="ม่วงสามสิบ",
            household_code="hh-34-1",
            monthly_income="3500",
            phone="",
        ),
    )
    assert isinstance(row, Row)
    person = row.person
    assert person.national_id == national_id(1)
    assert person.birth_date == date(1987, 5, 12)  # Buddhist Era day/month/year
    assert person.first_name_en == "Malee"  # trimmed
    assert person.phone is None  # empty cell = not given
    assert (person.address.house_no, person.address.district) == ("99/1", "ม่วงสามสิบ")
    assert person.address.province_code == "34"
    assert (row.household_code, row.monthly_income) == ("hh-34-1", 3500)


def test_every_bad_field_is_reported_by_its_api_name() -> None:
    problems = imports.parse_row(
        COLUMNS,
        cells(
            national_id="1101700207031",  # wrong check digit
            first_name_th="",
            birth_date="31/02/2530",
            province_code="Bangkok",
            sex="f",
            monthly_income="-5",
        ),
    )
    assert isinstance(problems, list)
    fields = [p.field for p in problems]
    assert fields == [
        "national_id",
        "first_name_th",
        "birth_date",
        "sex",
        "address.province_code",
        "monthly_income",
        "monthly_income",
    ]
    reasons = dict(zip(fields, (p.reason for p in problems), strict=False))
    assert reasons["national_id"].startswith("not a valid Thai national ID")
    assert reasons["first_name_th"] == "required: the cell is empty"
    assert "needs a household_code" in problems[-1].reason


def test_reasons_never_quote_personal_data() -> None:
    problems = imports.parse_row(COLUMNS, cells(birth_date="31/02/2530", phone="08-1234"))
    assert isinstance(problems, list)
    text = " ".join(p.reason for p in problems)
    assert "31/02/2530" not in text and "08-1234" not in text
    future = imports.parse_row(COLUMNS, cells(birth_date="01/01/2600"))
    assert isinstance(future, list)
    assert future[0].reason == "birth date is not plausible"  # no 2057-01-01 either


def test_a_short_or_long_row_is_one_rejection() -> None:
    assert imports.parse_row(COLUMNS, ["1", "2"]) == [
        Problem("row", f"2 cells, but the header has {len(COLUMNS)}")
    ]


# --- rules across rows (no database: an empty Known) -------------------------------------


def batch(state: FileState | None = None) -> Batch:
    return Batch(
        actor="importer",
        import_id="job",
        state=state or FileState(COLUMNS),
        settings=RegistrySettings(),
        now=NOW,
    )


def row(**given: str) -> Row:
    parsed = imports.parse_row(COLUMNS, cells(**given))
    assert isinstance(parsed, Row), parsed
    return parsed


def test_same_id_twice_in_a_file_rejects_the_later_line_even_across_batches() -> None:
    first = batch()
    first.apply(2, row())
    first.apply(3, row(first_name_th="อื่น"))
    assert [(r["line"], r["reason"]) for r in first.rejections] == [
        (3, "duplicate of line 2 in this file")
    ]
    state = FileState(COLUMNS)
    first.merge_into(state)
    later = batch(state)
    later.apply(900, row())
    assert later.rejections[0]["reason"] == "duplicate of line 2 in this file"
    assert (later.counts.created, later.counts.rejected) == (0, 1)


def test_a_household_is_created_once_joined_and_its_income_recorded_once() -> None:
    b = batch()
    b.apply(2, row(household_code="hh-1", monthly_income="3500"))
    b.apply(3, row(national_id=national_id(2), household_code="hh-1", monthly_income="3500"))
    b.apply(4, row(national_id=national_id(3), household_code="hh-1"))
    assert len(b.new_households) == 1
    household = b.new_households[0]
    assert (household["monthly_income"], household["income_band"], household["low_income"]) == (
        3500,
        "B02",
        True,
    )
    assert {p["household_id"] for p in b.people} == {household["household_id"]}
    types = [o["ce_type"].split(".")[2] for o in b.outbox]
    assert types.count("HouseholdRegistered") == 1
    assert types.count("HouseholdMemberJoined") == 3
    assert types.count("HouseholdIncomeRecorded") == 1
    assert types.count("PersonRegistered") == 3
    assert len(b.incomes) == 1


def test_a_second_income_for_the_same_household_is_rejected() -> None:
    b = batch()
    b.apply(2, row(household_code="hh-1", monthly_income="3500"))
    b.apply(5, row(national_id=national_id(2), household_code="hh-1", monthly_income="9000"))
    assert [(r["line"], r["field"]) for r in b.rejections] == [(5, "monthly_income")]
    assert "line 2" in b.rejections[0]["reason"]


def test_likely_duplicates_in_one_batch_are_flagged_not_rejected() -> None:
    b = batch()
    b.apply(2, row())
    b.apply(3, row(national_id=national_id(2)))  # same name, birth date, province
    assert b.counts.created == 2 and b.counts.flagged == 1 and not b.rejections
    assert b.flags[0]["candidate_id"] == b.people[0]["person_id"]
    assert b.flags[0]["reason"] == people.LIKELY_DUPLICATE


def test_an_unknown_province_is_a_rejection_of_that_field() -> None:
    b = batch()
    b.apply(2, row(province_code="99"))
    assert [(r["field"], r["reason"]) for r in b.rejections] == [
        ("address.province_code", "unknown province code '99'")
    ]
    assert not b.people and not b.outbox and not b.audit  # nothing half done


def test_replay_rebuilds_what_accepted_rows_decided() -> None:
    state = FileState(COLUMNS)
    state.replay(2, cells(household_code="hh-1", monthly_income="3500"))
    assert state.seen == {national_id(1): 2}
    assert state.incomes == {"hh-1": (3500, 2)}


# --- consents and the person of each row ------------------------------------------------------


def test_consents_cell_is_purposes_separated_by_semicolons() -> None:
    parsed = row(consents=" loan-referral ; ")
    assert [c.model_dump() for c in parsed.person.consents] == [
        {
            "purpose": "loan-referral",
            "lender_code": None,
            "data_categories": [],
            "expires_at": None,
        }
    ]
    assert row().person.consents == []  # no column, or an empty cell: no consent


def test_a_bad_or_repeated_purpose_is_reported_like_post_people() -> None:
    unknown = imports.parse_row(COLUMNS, cells(consents="loan-referral;marketing"))
    assert isinstance(unknown, list)
    assert [p.field for p in unknown] == ["consents.1.purpose"]
    assert unknown[0].reason.startswith("unknown purpose 'marketing'")
    twice = imports.parse_row(COLUMNS, cells(consents="loan-referral;loan-referral"))
    assert twice == [Problem("consents", "purpose(s) given more than once: loan-referral")]


def test_a_consent_is_granted_as_post_people_grants_it() -> None:
    b = batch()
    b.apply(2, row(consents="loan-referral"))
    person_id = b.people[0]["person_id"]
    [consent] = b.consents
    assert consent["person_id"] == person_id and consent["purpose"] == "loan-referral"
    assert (consent["lender_code"], consent["data_categories"], consent["granted_at"]) == (
        None,
        "",
        NOW,
    )
    types = [o["ce_type"].split(".")[2] for o in b.outbox]
    assert types == ["PersonRegistered", "ConsentGranted"]
    granted = b.audit[1]
    assert (granted["action"], granted["entity_id"], granted["actor"]) == (
        "consent.granted",
        consent["consent_id"],
        "importer",
    )
    assert granted["detail"] == f"person {person_id}; purpose loan-referral; lender any"


def test_each_accepted_row_records_its_person_by_line_and_a_rejected_row_none() -> None:
    b = batch()
    b.apply(2, row())
    b.apply(3, row(province_code="99"))
    b.apply(4, row(national_id=national_id(2)))
    assert [(r["line"], r["outcome"]) for r in b.row_people] == [(2, "created"), (4, "created")]
    assert [r["person_id"] for r in b.row_people] == [p["person_id"] for p in b.people]
    assert all(set(r) == {"import_id", "line", "person_id", "outcome"} for r in b.row_people)
