"""Seed scenario for the IEAT "Weave Dreams, Build Careers" 2019 pilot.

`make demo` and `make smoke` replay this scenario through the services, and tests
compare what the services did with `expected_referrals` and `funnel_expectation`.
Programme facts (estates, occupations, lenders, target 1,000, 1,223 trained) come
from DOMAIN.md (the domain facts page); the people are synthetic, drawn from a seeded RNG so
that every run of a given seed produces the same people and the same outcomes.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from stdnum.th import pin

__all__ = [
    "ESTATES_2019",
    "LENDERS",
    "OCCUPATIONS_2019",
    "PRODUCTS_2019",
    "Estate",
    "LenderProduct",
    "Scenario",
    "Trainee",
    "expected_referrals",
    "funnel_expectation",
    "ieat_2019_pilot",
]

PROGRAMME_CODE = "ieat-wdbc-2019"
PROGRAMME_NAME = "Weave Dreams, Build Careers (IEAT) 2019 pilot"
PROGRAMME_YEAR = 2019
PROGRAMME_TARGET = 1000
TRAINED_2019 = 1223


@dataclass(frozen=True)
class Estate:
    code: str
    name: str
    province_code: str  # TIS 1099 two-digit province code


@dataclass(frozen=True)
class Trainee:
    national_id: str
    first_name: str
    last_name: str
    birth_date: datetime.date
    province_code: str
    estate_code: str
    occupation: str
    consents_to_lenders: bool
    completes: bool
    passes: bool
    level: int  # only meaningful when passes


@dataclass(frozen=True)
class LenderProduct:
    lender_code: str
    lender_name: str
    product_code: str
    product_name: str
    occupations: tuple[str, ...]
    min_level: int


@dataclass(frozen=True)
class Scenario:
    programme_code: str
    programme_name: str
    year: int
    target: int
    estates: tuple[Estate, ...]
    occupations: dict[str, str]
    trainees: tuple[Trainee, ...]
    products: tuple[LenderProduct, ...]


OCCUPATIONS_2019: dict[str, str] = {
    "security-guard": "Security guard",
    "health-massage": "Health massage",
    "food-and-beverage-production": "Food and beverage production",
    "community-enterprise-product-processing": (
        "Community-enterprise product processing (fruit processing, soap making)"
    ),
    "gardener": "Gardener",
    "mechanic": "Mechanic",
    "housekeeper": "Housekeeper",
}

_BANGKOK = "10"
_SAMUT_PRAKAN = "11"
_AYUTTHAYA = "14"
_CHON_BURI = "20"
_SAMUT_SAKHON = "74"

ESTATES_2019: tuple[Estate, ...] = (
    Estate("bang-poo", "Bang Poo", _SAMUT_PRAKAN),
    Estate("bang-chan", "Bang Chan", _BANGKOK),
    Estate("bang-plee", "Bang Plee", _SAMUT_PRAKAN),
    Estate("lat-krabang", "Lat Krabang", _BANGKOK),
    Estate("sinsakhon", "Sinsakhon", _SAMUT_SAKHON),
    Estate("samut-sakhon", "Samut Sakhon", _SAMUT_SAKHON),
    Estate("bang-pa-in", "Bang Pa-in", _AYUTTHAYA),
    Estate("ban-wa-hi-tech", "Ban Wa (Hi-Tech)", _AYUTTHAYA),
    Estate("saha-rattana-nakorn", "Saha Rattana Nakorn", _AYUTTHAYA),
    Estate("amata-city-chonburi", "Amata City Chonburi", _CHON_BURI),
)

# lender code -> name; the three financial mentors of the programme (DOMAIN.md, source 003).
LENDERS: dict[str, str] = {
    "gsb": "Government Savings Bank",
    "smed": "SME Development Bank",
    "tcg": "Thai Credit Guarantee Corporation",
}

# Product rules are demo assumptions, not from the sources: they are chosen so that
# every exclusion reason (occupation, level, consent) occurs in the seed data.
PRODUCTS_2019: tuple[LenderProduct, ...] = (
    LenderProduct(
        lender_code="gsb",
        lender_name=LENDERS["gsb"],
        product_code="gsb-occupation-loan",
        product_name="GSB occupation loan",
        occupations=(
            "health-massage",
            "food-and-beverage-production",
            "community-enterprise-product-processing",
            "housekeeper",
        ),
        min_level=1,
    ),
    LenderProduct(
        lender_code="smed",
        lender_name=LENDERS["smed"],
        product_code="smed-startup-loan",
        product_name="SME D Bank start-up loan",
        occupations=(
            "food-and-beverage-production",
            "community-enterprise-product-processing",
            "mechanic",
        ),
        min_level=2,
    ),
    LenderProduct(
        lender_code="tcg",
        lender_name=LENDERS["tcg"],
        product_code="tcg-micro-guarantee",
        product_name="TCG micro-credit guarantee",
        occupations=("security-guard", "gardener", "mechanic", "health-massage"),
        min_level=2,
    ),
)

_P_CONSENT = 0.85
_P_COMPLETE = 0.94
_P_PASS_GIVEN_COMPLETE = 0.88
_P_LEVEL_1 = 0.60

# Birth-year bands for the programme's three target groups. Years 1949-2000 keep
# everyone aged 18-70 on every day of 2019; Thai retirement age is 60.
_AGE_BANDS: tuple[tuple[float, int, int], ...] = (
    (0.55, 1970, 2000),  # working age
    (0.25, 1960, 1969),  # near retirement
    (0.20, 1949, 1959),  # elderly community groups
)

# Type-1 IDs are issued at birth to people born from 1984; older Thais got type 3
# when the 13-digit scheme was introduced, so the first digit tracks the birth date.
_TYPE_1_FROM = datetime.date(1984, 1, 1)

# fmt: off
_GIVEN_NAMES: tuple[str, ...] = (
    "สมชาย", "สมศักดิ์", "สมหญิง", "สมพร", "สุดา", "สุนีย์",
    "วิชัย", "ประเสริฐ", "ประยุทธ", "บุญมี", "บุญชู", "มาลี",
    "นงลักษณ์", "อรุณี", "กาญจนา", "จันทร์เพ็ญ", "ศิริพร", "วันดี",
    "สุภาพ", "ทองดี", "ชัยวัฒน์", "ณัฐพล", "ธนวัฒน์", "กิตติพงษ์",
    "อนุชา", "พิมพ์ชนก", "ปิยะนุช", "รัตนา", "อำพร", "สมบัติ",
    "สุรชัย", "วิไลวรรณ", "เพ็ญศรี", "ชนิดา", "ธีรวัฒน์", "นิพนธ์",
    "บุญเรือน", "ละเอียด", "สมจิตร", "ประภาพร", "อภิชาติ", "จิราพร",
    "ศักดิ์ชัย", "ยุพิน", "วีระ",
)

_SURNAMES: tuple[str, ...] = (
    "ศรีสุข", "แสงทอง", "ทองคำ", "บุญมา", "สุขสวัสดิ์",
    "วงศ์สวัสดิ์", "จันทร์แก้ว", "แก้วมณี", "ใจดี", "มีสุข",
    "รุ่งเรือง", "ศรีวงศ์", "พรหมมา", "สายทอง", "ทองมา", "บุญเรือง",
    "อินทร์แก้ว", "ชัยมงคล", "เจริญสุข", "สมบูรณ์", "ประเสริฐสุข",
    "คำแก้ว", "พันธ์ดี", "ศรีทอง", "บุญประเสริฐ", "แสงอรุณ",
    "วงศ์ใหญ่", "นาคสุข", "ทองดี", "สุวรรณ", "กิตติวงศ์", "ปัญญาดี",
    "ศักดิ์สิทธิ์", "มั่นคง", "ยิ้มแย้ม", "สุขเจริญ", "ทองสุข",
    "จันทร์หอม", "พึ่งบุญ", "รักษาวงศ์", "ดวงแก้ว", "บัวแก้ว",
    "เพชรรัตน์", "ศรีสวัสดิ์", "อ่อนศรี",
)
# fmt: on


def _birth_date(rng: random.Random) -> datetime.date:
    draw = rng.random()
    first, last = _AGE_BANDS[-1][1:]
    for weight, band_first, band_last in _AGE_BANDS:
        if draw < weight:
            first, last = band_first, band_last
            break
        draw -= weight
    start = datetime.date(first, 1, 1)
    span = (datetime.date(last, 12, 31) - start).days
    return start + datetime.timedelta(days=rng.randint(0, span))


def _national_id(
    rng: random.Random, birth_date: datetime.date, province_code: str, taken: set[str]
) -> str:
    kind = "1" if birth_date >= _TYPE_1_FROM else "3"
    while True:
        # digits 2-5 name the registering office (province + district)
        district = f"{rng.randint(1, 15):02d}"
        rest = f"{rng.randrange(10**7):07d}"
        body = kind + province_code + district + rest
        number = body + pin.calc_check_digit(body)
        if number not in taken:
            taken.add(number)
            return number


def _balanced(rng: random.Random, values: tuple[str, ...], size: int) -> list[str]:
    # A shuffled round-robin keeps every estate and occupation represented, which
    # independent random choices would not guarantee for small sizes.
    out = [values[i % len(values)] for i in range(size)]
    rng.shuffle(out)
    return out


def ieat_2019_pilot(seed: int = 2019, size: int = TRAINED_2019) -> Scenario:
    """Build the 2019 pilot scenario with `size` synthetic trainees."""
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    rng = random.Random(seed)
    estates_by_code = {estate.code: estate for estate in ESTATES_2019}
    estate_codes = _balanced(rng, tuple(estates_by_code), size)
    occupations = _balanced(rng, tuple(OCCUPATIONS_2019), size)
    taken: set[str] = set()
    trainees: list[Trainee] = []
    for estate_code, occupation in zip(estate_codes, occupations, strict=True):
        estate = estates_by_code[estate_code]
        birth_date = _birth_date(rng)
        national_id = _national_id(rng, birth_date, estate.province_code, taken)
        # Draw every outcome for every trainee so one person's branch does not
        # shift the random stream of everyone after them.
        consents = rng.random() < _P_CONSENT
        completes = rng.random() < _P_COMPLETE
        passes_if_complete = rng.random() < _P_PASS_GIVEN_COMPLETE
        level = 1 if rng.random() < _P_LEVEL_1 else 2
        trainees.append(
            Trainee(
                national_id=national_id,
                first_name=rng.choice(_GIVEN_NAMES),
                last_name=rng.choice(_SURNAMES),
                birth_date=birth_date,
                province_code=estate.province_code,
                estate_code=estate_code,
                occupation=occupation,
                consents_to_lenders=consents,
                completes=completes,
                passes=completes and passes_if_complete,
                level=level,
            )
        )
    return Scenario(
        programme_code=PROGRAMME_CODE,
        programme_name=PROGRAMME_NAME,
        year=PROGRAMME_YEAR,
        target=PROGRAMME_TARGET,
        estates=ESTATES_2019,
        occupations=dict(OCCUPATIONS_2019),
        trainees=tuple(trainees),
        products=PRODUCTS_2019,
    )


def _eligible(trainee: Trainee, product: LenderProduct) -> bool:
    return (
        trainee.consents_to_lenders
        and trainee.completes
        and trainee.passes
        and trainee.occupation in product.occupations
        and trainee.level >= product.min_level
    )


def expected_referrals(scenario: Scenario) -> frozenset[tuple[str, str]]:
    """(national_id, product_code) pairs the referral service should produce."""
    return frozenset(
        (trainee.national_id, product.product_code)
        for trainee in scenario.trainees
        for product in scenario.products
        if _eligible(trainee, product)
    )


def funnel_expectation(scenario: Scenario) -> dict[str, int]:
    """Counts per funnel stage that dashboards should show after the replay."""
    trainees = scenario.trainees
    referrals = expected_referrals(scenario)
    completed = sum(t.completes for t in trainees)
    certified = sum(t.passes for t in trainees)
    return {
        "registered": len(trainees),
        "consented": sum(t.consents_to_lenders for t in trainees),
        # The pilot trained everyone it registered (1,223 trained, DOMAIN.md).
        "enrolled": len(trainees),
        "completed": completed,
        "not_completed": len(trainees) - completed,
        "certified": certified,
        "failed_assessment": completed - certified,
        "referred_people": len({national_id for national_id, _ in referrals}),
        "referrals": len(referrals),
    }
