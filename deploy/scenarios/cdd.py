"""Seed scenario for CDD Sammachiv in Muang Sam Sip district, Ubon Ratchathani.

The model (DOMAIN.md, source 001): the district's community-development office finds
community sages and keeps their register; one sage per village is trained as lead trainer
and picks four more (five per village); the programme runs in 13 villages, five days each
(days 1-3 knowledge transfer, day 4 a study visit, day 5 practice at home); each village
picks 20 target households, lowest income first. Officers then guide households to funding.

The villages, sages and households are synthetic (the source names none), drawn from a
seeded RNG: every run of a seed gives the same people, the same selection and the same
incomes after training.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence

from deploy.scenarios.pilot import (
    GIVEN_NAMES,
    P_CONSENT,
    P_LEVEL_1,
    P_PASS_GIVEN_COMPLETE,
    PRODUCTS_2019,
    PRODUCTS_SUPHAN_BURI,
    SURNAMES,
    Organisation,
    PlaceTarget,
    Sage,
    Scenario,
    Trainee,
    Village,
    new_national_id,
)

__all__ = [
    "CDD",
    "HOUSEHOLDS_PER_VILLAGE",
    "OCCUPATION",
    "TRAINERS_PER_VILLAGE",
    "VILLAGES",
    "band_floor",
    "cdd_sammachiv",
]

PROGRAMME_CODE = "cdd-sammachiv-muang-sam-sip"
PROGRAMME_NAME = "CDD Sammachiv, Muang Sam Sip district (Ubon Ratchathani)"
PROGRAMME_YEAR = 2017  # the district office's report (source 001) is of 2017
UBON_RATCHATHANI = "34"
DISTRICT = "Muang Sam Sip"
TRAINERS_PER_VILLAGE = 5  # 1 lead sage + the 4 they pick
HOUSEHOLDS_PER_VILLAGE = 20
# Community products fit the Sammachiv livelihood model (tourism class D: community
# products); the vocabulary's nearest occupation is community-enterprise product processing.
OCCUPATION = "community-enterprise-product-processing"

# Seeded by the registry itself (services/registry/data/organisations.csv).
CDD = Organisation("cdd", "programme-owner", "Community Development Department", "กรมการพัฒนาชุมชน")

# Synthetic village names of the region's usual kind (Ban Nong ..., Ban Non ...); the codes
# follow the registry's example (`ubon-muang-sam-sip-01`). Not the district's real list.
# fmt: off
_VILLAGE_NAMES: tuple[tuple[str, str], ...] = (
    ("Ban Nong Hai", "บ้านหนองไฮ"), ("Ban Non Sung", "บ้านโนนสูง"),
    ("Ban Khok Klang", "บ้านโคกกลาง"), ("Ban Don Yang", "บ้านดอนยาง"),
    ("Ban Nong Bua", "บ้านหนองบัว"), ("Ban Na Kham", "บ้านนาคำ"),
    ("Ban Hua Na", "บ้านหัวนา"), ("Ban Phai Yai", "บ้านไผ่ใหญ่"),
    ("Ban Kham Pom", "บ้านคำป่อม"), ("Ban Nong Lao", "บ้านหนองเหล่า"),
    ("Ban Yang Yai", "บ้านยางใหญ่"), ("Ban Phon Sawan", "บ้านโพนสวรรค์"),
    ("Ban Nong Mek", "บ้านหนองเม็ก"),
)
# fmt: on

VILLAGES: tuple[Village, ...] = tuple(
    Village(f"ubon-muang-sam-sip-{n:02d}", name_en, name_th, UBON_RATCHATHANI, DISTRICT)
    for n, (name_en, name_th) in enumerate(_VILLAGE_NAMES, 1)
)

# Applicants beyond the 20 seats, one number per village (shuffled over the villages):
# about half the villages have more interested households than seats, so the waitlist shows.
_EXTRA_APPLICANTS = (0, 0, 0, 0, 0, 0, 2, 3, 4, 5, 6, 7, 8)

# The registry's default income band floors (THB a month; services/registry/settings.py):
# training ranks applicants by their household's band floor, never by the amount.
BAND_FLOORS = (0, 2_000, 4_000, 6_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000)

# Monthly household incomes of the interested households, THB: mostly poor (the Village
# Fund's ceiling is 10,000), some above, so selection has something to choose.
_INCOME_RANGE = (1_200, 16_000)
_P_COMPLETE = 0.94  # of those enrolled, as in the IEAT pilot
_P_INCOME_RISES = 0.35  # completers whose household records a higher income afterwards
_RISE_RANGE = (500, 4_000)  # THB a month


def band_floor(income: int) -> int:
    return max(floor for floor in BAND_FLOORS if floor <= income)


def _birth_date(rng: random.Random) -> datetime.date:
    # Heads of working households, aged 26 to 64 in 2026: inside every product's ages.
    return datetime.date(rng.randint(1962, 2000), rng.randint(1, 12), rng.randint(1, 28))


def _incomes(rng: random.Random, applicants: int) -> list[int]:
    """Incomes for a village's applicants such that the seats end between two bands: who is
    selected then follows from the bands alone (training breaks ties in a band by application
    time, which a demo should not hinge on)."""
    while True:
        incomes = [rng.randrange(*_INCOME_RANGE, 100) for _ in range(applicants)]
        if applicants <= HOUSEHOLDS_PER_VILLAGE:
            return incomes
        floors = sorted(band_floor(i) for i in incomes)
        if floors[HOUSEHOLDS_PER_VILLAGE - 1] < floors[HOUSEHOLDS_PER_VILLAGE]:
            return incomes


def selected(incomes: Sequence[int], seats: int) -> list[bool]:
    """Lowest band first, then the earlier application (the list's order): the training
    service's rank key (docs/decisions/0009), restated to compute the expectation by hand."""
    order = sorted(range(len(incomes)), key=lambda i: (band_floor(incomes[i]), i))
    chosen = set(order[:seats])
    return [i in chosen for i in range(len(incomes))]


def _sages(rng: random.Random, village: Village) -> list[Sage]:
    return [
        Sage(
            display_name=f"{rng.choice(GIVEN_NAMES)} {rng.choice(SURNAMES)}",
            village_code=village.code,
            occupation=OCCUPATION,
            role="lead" if n == 0 else "member",
        )
        for n in range(TRAINERS_PER_VILLAGE)
    ]


def cdd_sammachiv(seed: int = 34) -> Scenario:
    """13 villages x (20 seats + some waitlisted applicants), five sages each."""
    rng = random.Random(seed)
    extras = list(_EXTRA_APPLICANTS)
    rng.shuffle(extras)
    taken: set[str] = set()
    trainees: list[Trainee] = []
    sages: list[Sage] = []
    for village, extra in zip(VILLAGES, extras, strict=True):
        sages += _sages(rng, village)
        incomes = _incomes(rng, HOUSEHOLDS_PER_VILLAGE + extra)
        for income, enrolled in zip(
            incomes, selected(incomes, HOUSEHOLDS_PER_VILLAGE), strict=True
        ):
            birth_date = _birth_date(rng)
            # Every draw for everyone, so one household's branch does not shift the rest.
            consents = rng.random() < P_CONSENT
            completes = rng.random() < _P_COMPLETE
            passes_if_complete = rng.random() < P_PASS_GIVEN_COMPLETE
            level = 1 if rng.random() < P_LEVEL_1 else 2
            rises = rng.random() < _P_INCOME_RISES
            rise = rng.randrange(*_RISE_RANGE, 100)
            trainees.append(
                Trainee(
                    national_id=new_national_id(rng, birth_date, UBON_RATCHATHANI, taken),
                    first_name=rng.choice(GIVEN_NAMES),
                    last_name=rng.choice(SURNAMES),
                    birth_date=birth_date,
                    province_code=UBON_RATCHATHANI,
                    estate_code=village.code,  # the cohort's venue: the village
                    occupation=OCCUPATION,
                    consents_to_lenders=consents,
                    completes=enrolled and completes,
                    passes=enrolled and completes and passes_if_complete,
                    level=level,
                    monthly_income=income,
                    village_code=village.code,
                    enrolled=enrolled,
                    income_after=income + rise if enrolled and completes and rises else None,
                )
            )
    products = {p.product_code: p for p in PRODUCTS_2019 + PRODUCTS_SUPHAN_BURI}
    return Scenario(
        programme_code=PROGRAMME_CODE,
        programme_name=PROGRAMME_NAME,
        year=PROGRAMME_YEAR,
        target=HOUSEHOLDS_PER_VILLAGE * len(VILLAGES),
        estates=(),
        occupations={OCCUPATION: "Community products (Sammachiv)"},
        trainees=tuple(trainees),
        # Officers guide households to the Village Fund and GSB (DOMAIN.md, sources 001, 002).
        products=(products["village-fund-community-loan"], products["gsb-occupation-loan"]),
        owner=CDD,
        venue_kind="village",
        villages=VILLAGES,
        sages=tuple(sages),
        targets=tuple(PlaceTarget("village", v.code, HOUSEHOLDS_PER_VILLAGE) for v in VILLAGES),
        village_cap=HOUSEHOLDS_PER_VILLAGE,
    )
