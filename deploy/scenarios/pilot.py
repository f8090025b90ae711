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
from collections.abc import Sequence
from dataclasses import dataclass, replace

from stdnum.th import pin

__all__ = [
    "ESTATES_2019",
    "LENDERS",
    "OCCUPATIONS_2019",
    "PRODUCTS_2019",
    "Estate",
    "LenderProduct",
    "Organisation",
    "PlaceTarget",
    "Sage",
    "Scenario",
    "Trainee",
    "Village",
    "combined",
    "expected_held",
    "expected_referrals",
    "funnel_expectation",
    "ieat_2019_pilot",
    "suphan_buri_beauticians",
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
class Village:
    """A village the registry is told of (VillageRegistered) before its people."""

    code: str
    name_en: str
    name_th: str
    province_code: str
    district: str


@dataclass(frozen=True)
class Sage:
    """A community sage on the trainer register (TrainerRegistered): the village's lead
    trainer, or one of the team the lead picked."""

    display_name: str
    village_code: str
    occupation: str
    role: str  # lead or member


@dataclass(frozen=True)
class PlaceTarget:
    place_kind: str  # estate, province or village
    place_code: str
    target: int


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
    monthly_income: int | None = None  # of the trainee's household; None: none on record
    village_code: str | None = None  # on the trainee's address (training caps seats by it)
    enrolled: bool = True  # False: applied but waitlisted (never attends)
    income_after: int | None = None  # a higher income recorded after training; None: none


@dataclass(frozen=True)
class LenderProduct:
    """A product's rules as the funding service's seed catalogue states them, restated here
    so that the expectation below is computed by hand, not by the service's own code."""

    lender_code: str
    lender_name: str
    product_code: str
    product_name: str
    occupations: tuple[str, ...] | None  # None: any occupation
    min_level: int
    min_age: int | None = None  # age = evaluation year - birth year
    max_age: int | None = None
    provinces: tuple[str, ...] | None = None
    max_income_band_ceiling: int | None = None  # household band must end at or below this


@dataclass(frozen=True)
class Organisation:
    """A programme owner as the registry knows it (the seeder registers it if need be)."""

    code: str
    kind: str
    name_en: str
    name_th: str


# Seeded by the registry itself (services/registry/data/organisations.csv).
IEAT = Organisation(
    "ieat",
    "programme-owner",
    "Industrial Estate Authority of Thailand",
    "การนิคมอุตสาหกรรมแห่งประเทศไทย",
)
SUPHAN_BURI_PAO = Organisation(
    "pao-suphanburi",
    "programme-owner",
    "Suphan Buri Provincial Administrative Organisation",
    "องค์การบริหารส่วนจังหวัดสุพรรณบุรี",
)


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
    owner: Organisation = IEAT
    venue_kind: str = "estate"  # where cohorts meet: estate, learning-centre or village
    villages: tuple[Village, ...] = ()  # registered before the people who live in them
    sages: tuple[Sage, ...] = ()  # trainers registered and named on their village's cohort
    targets: tuple[PlaceTarget, ...] = ()  # the programme's targets by place
    village_cap: int | None = None  # seats per village in a cohort; None: everyone applying


def combined(scenarios: Sequence[Scenario]) -> Scenario:
    """Several programmes seeded into one stack, as one scenario for the expectations: every
    trainee is evaluated against every product, as the funding service does (all are live)."""
    first = scenarios[0]
    products = {p.product_code: p for s in scenarios for p in s.products}
    return replace(
        first,
        programme_code="+".join(s.programme_code for s in scenarios),
        programme_name=" + ".join(s.programme_name for s in scenarios),
        target=sum(s.target for s in scenarios),
        trainees=tuple(t for s in scenarios for t in s.trainees),
        products=tuple(products.values()),
    )


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
# every exclusion reason (occupation, level, consent, age) occurs in the seed data. They
# restate services/funding/data/catalogue.json (a unit test keeps the two equal).
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
        min_age=20,
        max_age=65,
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
        min_age=20,
        max_age=60,
    ),
    LenderProduct(
        lender_code="tcg",
        lender_name=LENDERS["tcg"],
        product_code="tcg-micro-guarantee",
        product_name="TCG micro-credit guarantee",
        occupations=("security-guard", "gardener", "mechanic", "health-massage"),
        min_level=2,
        min_age=20,
        max_age=70,
    ),
)

# The Suphan Buri model (DOMAIN.md: beauty-salon workers certified, then financed by GSB),
# and the Village Fund's product for low-income households, which any occupation may meet.
SUPHAN_BURI = "72"
PRODUCTS_SUPHAN_BURI: tuple[LenderProduct, ...] = (
    LenderProduct(
        lender_code="gsb",
        lender_name=LENDERS["gsb"],
        product_code="gsb-beautician-suphanburi",
        product_name="GSB beauty-salon loan, Suphan Buri",
        occupations=("beautician",),
        min_level=1,
        min_age=20,
        max_age=60,
        provinces=(SUPHAN_BURI,),
    ),
    LenderProduct(
        lender_code="village-fund",
        lender_name="Village and Urban Community Fund",
        product_code="village-fund-community-loan",
        product_name="Village Fund community livelihood loan",
        occupations=None,
        min_level=1,
        min_age=18,
        max_age=70,
        max_income_band_ceiling=10_000,
    ),
)

P_CONSENT = 0.85
P_COMPLETE = 0.94
P_PASS_GIVEN_COMPLETE = 0.88
P_LEVEL_1 = 0.60

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
GIVEN_NAMES: tuple[str, ...] = (
    "สมชาย", "สมศักดิ์", "สมหญิง", "สมพร", "สุดา", "สุนีย์",
    "วิชัย", "ประเสริฐ", "ประยุทธ", "บุญมี", "บุญชู", "มาลี",
    "นงลักษณ์", "อรุณี", "กาญจนา", "จันทร์เพ็ญ", "ศิริพร", "วันดี",
    "สุภาพ", "ทองดี", "ชัยวัฒน์", "ณัฐพล", "ธนวัฒน์", "กิตติพงษ์",
    "อนุชา", "พิมพ์ชนก", "ปิยะนุช", "รัตนา", "อำพร", "สมบัติ",
    "สุรชัย", "วิไลวรรณ", "เพ็ญศรี", "ชนิดา", "ธีรวัฒน์", "นิพนธ์",
    "บุญเรือน", "ละเอียด", "สมจิตร", "ประภาพร", "อภิชาติ", "จิราพร",
    "ศักดิ์ชัย", "ยุพิน", "วีระ",
)

SURNAMES: tuple[str, ...] = (
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


def draw_birth_date(rng: random.Random) -> datetime.date:
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


def new_national_id(
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
        birth_date = draw_birth_date(rng)
        national_id = new_national_id(rng, birth_date, estate.province_code, taken)
        # Draw every outcome for every trainee so one person's branch does not
        # shift the random stream of everyone after them.
        consents = rng.random() < P_CONSENT
        completes = rng.random() < P_COMPLETE
        passes_if_complete = rng.random() < P_PASS_GIVEN_COMPLETE
        level = 1 if rng.random() < P_LEVEL_1 else 2
        trainees.append(
            Trainee(
                national_id=national_id,
                first_name=rng.choice(GIVEN_NAMES),
                last_name=rng.choice(SURNAMES),
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


# Upper edges of the registry's income bands up to 15,000 THB a month (its default
# income_band_edges): an income's band ends at the first edge above it.
_BAND_EDGES = (2_000, 4_000, 6_000, 8_000, 10_000, 15_000)


def _band_ceiling(income: int) -> int | None:
    return next((edge for edge in _BAND_EDGES if income < edge), None)


def meets_rules(trainee: Trainee, product: LenderProduct, year: int) -> bool:
    """Every clause but the consent: certified, occupation, level, age, province, income."""
    age = year - trainee.birth_date.year
    ceiling = None if trainee.monthly_income is None else _band_ceiling(trainee.monthly_income)
    return (
        trainee.completes
        and trainee.passes
        and (product.occupations is None or trainee.occupation in product.occupations)
        and trainee.level >= product.min_level
        and (product.min_age is None or age >= product.min_age)
        and (product.max_age is None or age <= product.max_age)
        and (product.provinces is None or trainee.province_code in product.provinces)
        and (
            product.max_income_band_ceiling is None
            or (ceiling is not None and ceiling <= product.max_income_band_ceiling)
        )
    )


def _year(on: datetime.date | None) -> int:
    return (on or datetime.date.today()).year


def expected_referrals(
    scenario: Scenario, on: datetime.date | None = None
) -> frozenset[tuple[str, str]]:
    """(national_id, product_code) pairs the referral service should send to lenders, for
    referrals evaluated in the year of `on` (default today)."""
    year = _year(on)
    return frozenset(
        (trainee.national_id, product.product_code)
        for trainee in scenario.trainees
        for product in scenario.products
        if trainee.consents_to_lenders and meets_rules(trainee, product, year)
    )


def expected_held(
    scenario: Scenario, on: datetime.date | None = None
) -> frozenset[tuple[str, str]]:
    """(national_id, product_code) pairs that wait for the person's consent."""
    year = _year(on)
    return frozenset(
        (trainee.national_id, product.product_code)
        for trainee in scenario.trainees
        for product in scenario.products
        if not trainee.consents_to_lenders and meets_rules(trainee, product, year)
    )


def funnel_expectation(scenario: Scenario, on: datetime.date | None = None) -> dict[str, int]:
    """Counts per funnel stage that dashboards should show after the replay."""
    trainees = scenario.trainees
    referrals = expected_referrals(scenario, on)
    completed = sum(t.completes for t in trainees)
    certified = sum(t.passes for t in trainees)
    # The pilot trained everyone it registered (1,223 trained, DOMAIN.md); a capped
    # programme waitlists some, who never attend.
    enrolled = sum(t.enrolled for t in trainees)
    return {
        "registered": len(trainees),
        "consented": sum(t.consents_to_lenders for t in trainees),
        "enrolled": enrolled,
        "completed": completed,
        "not_completed": enrolled - completed,
        "certified": certified,
        "failed_assessment": completed - certified,
        "referred_people": len({national_id for national_id, _ in referrals}),
        "referrals": len(referrals),
    }


def suphan_buri_beauticians(seed: int = 72, size: int = 60) -> Scenario:
    """The Suphan Buri model: beauty-salon workers trained and certified by the PAO with
    TPQI, then referred to GSB. Most live in Suphan Buri (72), some in the neighbouring
    provinces; ages straddle the product's 20-60; households' incomes straddle the Village
    Fund's ceiling; consent, completion and levels vary as in the IEAT pilot."""
    rng = random.Random(seed)
    neighbours = ("71", "73", "16")  # Kanchanaburi, Nakhon Pathom, Lop Buri
    taken: set[str] = set()
    trainees = []
    for i in range(size):
        province = SUPHAN_BURI if i % 5 else neighbours[(i // 5) % len(neighbours)]
        birth_date = datetime.date(rng.randint(1960, 2008), rng.randint(1, 12), rng.randint(1, 28))
        consents = rng.random() < P_CONSENT
        completes = rng.random() < P_COMPLETE
        passes_if_complete = rng.random() < P_PASS_GIVEN_COMPLETE
        level = 1 if rng.random() < P_LEVEL_1 else 2
        income = rng.choice((None, *range(3_000, 25_000, 1_500)))
        trainees.append(
            Trainee(
                national_id=new_national_id(rng, birth_date, province, taken),
                first_name=rng.choice(GIVEN_NAMES),
                last_name=rng.choice(SURNAMES),
                birth_date=birth_date,
                province_code=province,
                estate_code="suphan-buri-pao",
                occupation="beautician",
                consents_to_lenders=consents,
                completes=completes,
                passes=completes and passes_if_complete,
                level=level,
                monthly_income=income,
            )
        )
    return Scenario(
        programme_code="suphan-buri-beauty",
        programme_name="Suphan Buri PAO beauty-salon certification",
        year=2026,
        target=size,
        estates=(),
        occupations={"beautician": "Beautician"},
        trainees=tuple(trainees),
        products=PRODUCTS_SUPHAN_BURI,
        owner=SUPHAN_BURI_PAO,
        venue_kind="learning-centre",
    )
