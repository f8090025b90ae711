"""A synthetic CSV of people and households for the registry import, with known faults.

Deterministic for a given seed: the same rows, the same invalid national IDs (wrong check
digit) and the same duplicates (a row repeating an earlier valid row, national ID included),
so tests and the benchmark know exactly which lines the import must reject. Every other row is
valid: Thai names, real province codes, birth dates in ISO or Buddhist Era form, some rows in
households with a monthly income. No village codes (villages must be registered first).
"""

from __future__ import annotations

import csv
import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stdnum.th import pin

from services.registry.handlers.imports import COLUMNS
from services.registry.reference import PROVINCES

# Every column but consents: the file is a survey of people and households (the seeder's
# import, deploy/scenarios/seed.py, is the one that gives consents).
FILE_COLUMNS = tuple(name for name in COLUMNS if name != "consents")

# fmt: off
_GIVEN = (
    ("สมชาย", "Somchai"), ("สมศรี", "Somsri"), ("มาลี", "Malee"), ("วิชัย", "Wichai"),
    ("สุดา", "Suda"), ("ประเสริฐ", "Prasert"), ("บุญมี", "Boonmee"), ("นิตยา", "Nittaya"),
    ("อนุชา", "Anucha"), ("กาญจนา", "Kanchana"), ("ชัยวัฒน์", "Chaiwat"), ("รัตนา", "Rattana"),
    ("สุรชัย", "Surachai"), ("วันดี", "Wandee"), ("ธนวัฒน์", "Thanawat"), ("ปิยะนุช", "Piyanuch"),
    ("ณัฐพล", "Nattapon"), ("จิราพร", "Jiraporn"), ("สมบัติ", "Sombat"), ("อำพร", "Amporn"),
    ("ศักดิ์ชัย", "Sakchai"), ("ยุพิน", "Yupin"), ("วีระ", "Weera"), ("พิมพ์ชนก", "Pimchanok"),
)
_FAMILY = (
    ("ศรีสุข", "Srisuk"), ("แสงทอง", "Saengthong"), ("ทองคำ", "Thongkham"), ("บุญมา", "Boonma"),
    ("ใจดี", "Jaidee"), ("มีสุข", "Meesuk"), ("รุ่งเรือง", "Rungrueang"), ("ศรีวงศ์", "Sriwong"),
    ("พรหมมา", "Promma"), ("สายทอง", "Saithong"), ("เจริญสุข", "Charoensuk"), ("สมบูรณ์", "Somboon"),
    ("คำแก้ว", "Khamkaew"), ("พันธ์ดี", "Pandee"), ("แสงอรุณ", "Saengarun"), ("สุวรรณ", "Suwan"),
    ("ปัญญาดี", "Panyadee"), ("มั่นคง", "Mankong"), ("ยิ้มแย้ม", "Yimyaem"), ("ดวงแก้ว", "Duangkaew"),
)
_SUBDISTRICTS = ("ไผ่ใหญ่", "ในเมือง", "หนองบัว", "บ้านใหม่", "ท่าช้าง", "โนนสูง", "หัวทะเล")
_DISTRICTS = ("ม่วงสามสิบ", "เมือง", "วารินชำราบ", "พิมาย", "ปากช่อง", "บางพลี", "ศรีราชา")
_STREETS = ("", "", "ถนนมิตรภาพ", "ซอย 5, ถนนสุขุมวิท", "หมู่ 3", 'ซอย "ร่มเย็น"')
# fmt: on
_BE = 543
_HOUSEHOLD_SIZES = (1, 2, 2, 3, 3, 4, 5)


@dataclass
class Expectation:
    """What importing the file must report, line by line (the header is line 1)."""

    rows: int
    invalid: list[int] = field(default_factory=list)  # lines with a wrong check digit
    duplicate_of: dict[int, int] = field(default_factory=dict)  # line -> earlier line
    households: set[str] = field(default_factory=set)  # codes on accepted rows
    incomes: dict[str, int] = field(default_factory=dict)  # code -> monthly income

    @property
    def rejected(self) -> dict[int, str]:
        """line -> the one field each rejected line is reported for."""
        lines = dict.fromkeys(self.invalid, "national_id")
        lines.update(dict.fromkeys(self.duplicate_of, "national_id"))
        return dict(sorted(lines.items()))

    @property
    def created(self) -> int:
        return self.rows - len(self.rejected)


def _birth_date(rng: random.Random) -> datetime.date:
    start = datetime.date(1955, 1, 1)
    return start + datetime.timedelta(days=rng.randrange(365 * 50))


def _format_date(rng: random.Random, born: datetime.date) -> str:
    if rng.random() < 0.5:
        return born.isoformat()
    return f"{born.day:02d}/{born.month:02d}/{born.year + _BE}"  # as written on Thai forms


def _national_id(rng: random.Random, province: str, taken: set[str]) -> str:
    while True:
        body = (
            rng.choice("13")
            + province
            + f"{rng.randint(1, 15):02d}"
            + f"{rng.randrange(10**7):07d}"
        )
        number = body + pin.calc_check_digit(body)
        if number not in taken:
            taken.add(number)
            return number


def _bad_check_digit(number: str, rng: random.Random) -> str:
    wrong = (int(number[-1]) + rng.randint(1, 9)) % 10
    return number[:-1] + str(wrong)


def rows(
    count: int,
    *,
    invalid: float = 0.02,
    duplicates: float = 0.01,
    new_household: float = 0.3,
    seed: int = 2024,
) -> tuple[Iterator[list[str]], Expectation]:
    """The data rows (in FILE_COLUMNS order) and what the import must make of them.

    Exactly round(count * invalid) invalid IDs and round(count * duplicates) repeated rows.
    `new_household`: the chance that a row not already in a household starts one (of 1 to 5
    people on consecutive rows, 80% of them with an income). The iterator fills in the
    expectation as it goes: consume it before reading the latter.
    """
    rng = random.Random(seed)
    n_invalid, n_duplicates = round(count * invalid), round(count * duplicates)
    if n_invalid + n_duplicates > count - 1:
        raise ValueError("too many faulty rows for the file size")
    picked = rng.sample(range(1, count), n_invalid + n_duplicates)  # row 0 is always valid
    duplicate_rows, invalid_rows = set(picked[:n_duplicates]), set(picked[n_duplicates:])
    provinces = sorted(PROVINCES)
    expected = Expectation(rows=count)

    def generate() -> Iterator[list[str]]:
        taken: set[str] = set()
        originals: list[tuple[int, list[str]]] = []  # valid rows a duplicate may repeat
        household: tuple[str, str, str] | None = None  # code, province, income
        left = 0
        serial = 0
        for index in range(count):
            line = index + 2
            if index in duplicate_rows and originals:
                first_line, cells = rng.choice(originals)
                expected.duplicate_of[line] = first_line
                yield cells
                continue
            if left > 0:
                code, province, income = household or ("", "", "")
                left -= 1
            elif rng.random() < new_household:
                serial += 1
                province = rng.choice(provinces)
                income = str(rng.randrange(0, 60_000, 500)) if rng.random() < 0.8 else ""
                code = f"hh-{province}-{serial:06d}"
                household = (code, province, income)
                left = rng.choice(_HOUSEHOLD_SIZES) - 1
            else:
                code, province, income = "", rng.choice(provinces), ""
            given, given_en = rng.choice(_GIVEN)
            family, family_en = rng.choice(_FAMILY)
            born = _birth_date(rng)
            number = _national_id(rng, province, taken)
            bad = index in invalid_rows
            cells_by_name = {
                "national_id": _bad_check_digit(number, rng) if bad else number,
                "first_name_th": given,
                "last_name_th": family,
                "first_name_en": given_en if rng.random() < 0.7 else "",
                "last_name_en": family_en if rng.random() < 0.7 else "",
                "birth_date": _format_date(rng, born),
                "sex": rng.choice(("female", "male")),
                "phone": f"08{rng.randrange(10**8):08d}" if rng.random() < 0.8 else "",
                "house_no": f"{rng.randint(1, 300)}/{rng.randint(1, 20)}",
                "street": rng.choice(_STREETS),
                "village_code": "",
                "subdistrict": rng.choice(_SUBDISTRICTS),
                "district": rng.choice(_DISTRICTS),
                "province_code": province,
                "household_code": code,
                "monthly_income": income if code else "",
            }
            cells = [cells_by_name[name] for name in FILE_COLUMNS]
            if bad:
                expected.invalid.append(line)
            else:
                originals.append((line, cells))
                if code:
                    expected.households.add(code)
                    if income:
                        expected.incomes[code] = int(income)
            yield cells

    return generate(), expected


def write_csv(
    path: Path,
    count: int,
    *,
    invalid: float = 0.02,
    duplicates: float = 0.01,
    new_household: float = 0.3,
    seed: int = 2024,
    bom: bool = False,
) -> Expectation:
    """Write the file (UTF-8, header first) and return what importing it must report."""
    data, expected = rows(
        count, invalid=invalid, duplicates=duplicates, new_household=new_household, seed=seed
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FILE_COLUMNS)
        writer.writerows(data)
    return expected
