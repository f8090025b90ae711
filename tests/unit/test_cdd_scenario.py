"""The CDD Sammachiv scenario has the model's shape (DOMAIN.md): 13 villages, 5 sages each,
20 households per village chosen lowest income first, a 5-day plan; the services' own
validators and selection accept it; the lenders' demo decisions are fixed by the seed."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import random
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from stdnum.th import pin

from deploy.scenarios import lenders
from deploy.scenarios.cdd import CDD, OCCUPATION, VILLAGES, cdd_sammachiv
from deploy.scenarios.pilot import (
    Trainee,
    combined,
    expected_referrals,
    funnel_expectation,
    ieat_2019_pilot,
    suphan_buri_beauticians,
)
from deploy.scenarios.seed import COURSE_DAYS, DAY_PLAN, MIN_ATTENDANCE_DAYS, registration_csv
from services.funding.domain import DECLINE_REASONS
from services.funding.handlers.catalogue import load_seed
from services.registry import domain as registry_domain
from services.registry.handlers import imports
from services.registry.handlers.imports import Records, Row
from services.registry.schemas import TrainerIn, VillageIn
from services.registry.settings import RegistrySettings
from services.training import domain as training_domain
from services.training.schemas import CourseIn, ProgrammeIn
from shared.occupations import OCCUPATIONS

SCENARIO = cdd_sammachiv()
EDGES = RegistrySettings.model_fields["income_band_edges"].get_default(call_default_factory=True)
ORGANISATIONS = Path(__file__).parents[2] / "services/registry/data/organisations.csv"


def _by_village(trainees: tuple[Trainee, ...]) -> dict[str, list[Trainee]]:
    grouped: dict[str, list[Trainee]] = defaultdict(list)
    for t in trainees:
        assert t.village_code is not None
        grouped[t.village_code].append(t)
    return grouped


def test_thirteen_villages_of_muang_sam_sip_the_registry_accepts() -> None:
    assert len(SCENARIO.villages) == 13
    assert len({v.code for v in SCENARIO.villages}) == 13
    for village in SCENARIO.villages:
        VillageIn.model_validate(dataclasses.asdict(village))  # the registry's own check
        assert (village.province_code, village.district) == ("34", "Muang Sam Sip")
    assert {t.village_code for t in SCENARIO.trainees} == {v.code for v in VILLAGES}


def test_five_sages_per_village_one_of_them_the_lead() -> None:
    assert len(SCENARIO.sages) == 13 * 5
    per_village = Counter(s.village_code for s in SCENARIO.sages)
    leads = Counter(s.village_code for s in SCENARIO.sages if s.role == "lead")
    assert set(per_village.values()) == {5} and set(per_village) == {v.code for v in VILLAGES}
    assert set(leads.values()) == {1} and len(leads) == 13
    for sage in SCENARIO.sages:
        TrainerIn.model_validate(
            {
                "display_name": sage.display_name,
                "occupations": [sage.occupation],
                "village_code": sage.village_code,
                "role": sage.role,
            }
        )
        assert sage.occupation == OCCUPATION


def test_programme_owner_targets_and_occupation() -> None:
    owners = {row["code"]: row for row in csv.DictReader(ORGANISATIONS.open(encoding="utf-8"))}
    assert owners[CDD.code]["kind"] == CDD.kind == "programme-owner"
    assert OCCUPATION in OCCUPATIONS and list(SCENARIO.occupations) == [OCCUPATION]
    assert SCENARIO.target == 260 == sum(t.target for t in SCENARIO.targets)
    assert {(t.place_kind, t.target) for t in SCENARIO.targets} == {("village", 20)}
    assert {t.place_code for t in SCENARIO.targets} == {v.code for v in VILLAGES}
    assert SCENARIO.venue_kind == "village" and SCENARIO.village_cap == 20
    ProgrammeIn.model_validate(
        {
            "code": SCENARIO.programme_code,
            "name": SCENARIO.programme_name,
            "owner_code": CDD.code,
            "year": SCENARIO.year,
            "occupations": list(SCENARIO.occupations),
            "target_total": SCENARIO.target,
            "targets": [dataclasses.asdict(t) for t in SCENARIO.targets],
        }
    )


def test_five_day_plan_knowledge_transfer_study_visit_home_practice() -> None:
    plan = [training_domain.DayPlanEntry(*entry) for entry in DAY_PLAN]
    training_domain.check_day_plan(COURSE_DAYS, plan)  # covers days 1..5 exactly
    by_day = {day: e.activity for e in plan for day in range(e.from_day, e.to_day + 1)}
    assert by_day == {
        1: "knowledge-transfer",
        2: "knowledge-transfer",
        3: "knowledge-transfer",
        4: "study-visit",
        5: "home-practice",
    }
    CourseIn.model_validate(
        {
            "code": "c",
            "programme_code": SCENARIO.programme_code,
            "occupation": OCCUPATION,
            "title": SCENARIO.occupations[OCCUPATION],
            "days": COURSE_DAYS,
            "hours": 30,
            "day_plan": [dataclasses.asdict(e) for e in plan],
            "completion": {"min_attendance_days": MIN_ATTENDANCE_DAYS},
        }
    )


def test_households_valid_unique_and_all_with_an_income() -> None:
    ids = [t.national_id for t in SCENARIO.trainees]
    assert all(pin.is_valid(i) and i[1:3] == "34" for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(t.monthly_income is not None and t.monthly_income > 0 for t in SCENARIO.trainees)
    assert all(t.province_code == "34" for t in SCENARIO.trainees)


def test_twenty_households_per_village_and_a_waitlist_in_some() -> None:
    villages = _by_village(SCENARIO.trainees)
    assert {sum(t.enrolled for t in ts) for ts in villages.values()} == {20}
    waiting = [ts for ts in villages.values() if len(ts) > 20]
    assert len(waiting) >= 3
    assert not any(not t.enrolled and (t.completes or t.passes) for t in SCENARIO.trainees)


def _candidates(trainees: list[Trainee], rng: random.Random) -> list[training_domain.Candidate]:
    """As training freezes them: the registry's band of each household; application times
    and ids shuffled, so the outcome cannot rest on the tie-break."""
    start = datetime.datetime(2017, 6, 1, tzinfo=datetime.UTC)
    order = list(range(len(trainees)))
    rng.shuffle(order)
    out = []
    for t, position in zip(trainees, order, strict=True):
        assert t.monthly_income is not None
        band = registry_domain.income_band(t.monthly_income, EDGES)
        out.append(
            training_domain.Candidate(
                application_id=str(uuid.UUID(int=rng.getrandbits(128))),
                person_id=t.national_id,
                applied_at=start + datetime.timedelta(seconds=position),
                village_code=t.village_code,
                household_id=f"h-{t.national_id}",
                income_band=band.label,
                band_floor=band.floor,
                band_ceiling=band.ceiling,
            )
        )
    return out


@pytest.mark.parametrize("order_seed", [1, 2, 3])
def test_training_seats_the_lowest_income_households_the_scenario_enrols(order_seed: int) -> None:
    rng = random.Random(order_seed)
    rules = training_domain.Rules(capacity=20, village_cap=20, one_per_household=True)
    for trainees in _by_village(SCENARIO.trainees).values():
        placements = training_domain.select(_candidates(trainees, rng), rules)
        seated = {p.candidate.person_id for p in placements if p.seated}
        assert seated == {t.national_id for t in trainees if t.enrolled}
        if len(trainees) > 20:  # everyone seated is poorer than everyone waiting
            poorest_waiting = min(p.candidate.band_floor or 0 for p in placements if not p.seated)
            assert all((p.candidate.band_floor or 0) < poorest_waiting for p in placements[:20])


def test_some_households_earn_more_after_training() -> None:
    risen = [t for t in SCENARIO.trainees if t.income_after is not None]
    assert 0.2 * 244 < len(risen) < 0.5 * 244
    assert all(t.completes for t in risen)
    assert all(t.income_after > t.monthly_income for t in risen)  # type: ignore[operator]
    moved = [
        t
        for t in risen
        if registry_domain.income_band(t.income_after, EDGES).label  # type: ignore[arg-type]
        != registry_domain.income_band(t.monthly_income, EDGES).label  # type: ignore[arg-type]
    ]
    assert moved and len(moved) < len(risen)


def test_funnel_counts_the_waitlisted_as_registered_not_enrolled() -> None:
    f = funnel_expectation(SCENARIO)
    assert f["registered"] == len(SCENARIO.trainees) > f["enrolled"] == 260
    assert f["completed"] + f["not_completed"] == 260
    assert f["certified"] + f["failed_assessment"] == f["completed"]
    assert f["referrals"] == len(expected_referrals(SCENARIO)) > 0


def test_referred_to_the_village_fund_and_gsb_as_the_catalogue_states() -> None:
    live = {p["code"] for p in load_seed()["products"]}
    assert {p.product_code for p in SCENARIO.products} <= live
    products = {p for _, p in expected_referrals(SCENARIO)}
    assert products == {"village-fund-community-loan", "gsb-occupation-loan"}
    # Waitlisted households were never trained: nobody refers them.
    waiting = {t.national_id for t in SCENARIO.trainees if not t.enrolled}
    assert not waiting & {nid for nid, _ in expected_referrals(SCENARIO)}


def test_registration_file_puts_each_household_in_its_village() -> None:
    content, lines = registration_csv(SCENARIO, "r1")
    found = Records().feed(content, final=True)
    columns = imports.check_header(found[0][1])
    assert [line for line, _ in found[1:]] == lines
    for (_, cells), trainee in zip(found[1:], SCENARIO.trainees, strict=True):
        row = imports.parse_row(columns, cells)
        assert isinstance(row, Row), row
        assert row.person.address.village_code == trainee.village_code
        assert row.monthly_income == trainee.monthly_income and row.household_code


def test_deterministic_per_seed() -> None:
    assert cdd_sammachiv() == SCENARIO
    other = cdd_sammachiv(seed=35)
    assert {t.national_id for t in other.trainees} != {t.national_id for t in SCENARIO.trainees}


def test_lenders_decide_the_same_way_every_run_and_in_every_way() -> None:
    everyone = combined([ieat_2019_pilot(size=300), suphan_buri_beauticians(), SCENARIO])
    referrals = expected_referrals(everyone)
    decided = lenders.expected_decisions(everyone)
    assert decided.keys() <= referrals
    backwards = dataclasses.replace(everyone, trainees=everyone.trainees[::-1])
    assert decided == lenders.expected_decisions(backwards)
    per_lender = Counter(
        p.lender_code for p in everyone.products for _, code in decided if code == p.product_code
    )
    assert per_lender == dict.fromkeys(("gsb", "smed", "tcg", "village-fund"), lenders.PER_LENDER)
    statuses = Counter(d.status for d in decided.values())
    assert statuses["disbursed"] > statuses["approved"] > 0 and statuses["declined"] > 0
    assert {product for _, product in decided} == {p.product_code for p in everyone.products}
    for (_, product), d in decided.items():
        if d.approved:
            low, high = lenders.AMOUNTS[product]
            assert d.amount is not None and low <= d.amount <= high and d.reason_code is None
        else:
            assert d.reason_code in DECLINE_REASONS and d.amount is None and not d.disbursed
