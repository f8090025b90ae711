"""The seeder's registration file: every trainee on a known line, parsed by the registry's
own row reader into the person, household and consent the per-person calls used to send."""

from __future__ import annotations

import dataclasses

from deploy.scenarios.pilot import ieat_2019_pilot, suphan_buri_beauticians
from deploy.scenarios.seed import registration_csv
from services.registry.handlers import imports
from services.registry.handlers.imports import Records, Row


def test_each_trainee_is_on_its_line_with_household_income_and_consent() -> None:
    # The Suphan Buri scenario has households' incomes; the 2019 pilot has none.
    scenario = suphan_buri_beauticians(size=300)
    content, lines = registration_csv(scenario, "r1")
    records = Records()
    found = records.feed(content, final=True)
    columns = imports.check_header(found[0][1])
    assert [line for line, _ in found[1:]] == lines == list(range(2, 302))
    codes = set()
    for (_, cells), trainee in zip(found[1:], scenario.trainees, strict=True):
        row = imports.parse_row(columns, cells)
        assert isinstance(row, Row), row
        assert row.person.national_id == trainee.national_id
        assert row.person.birth_date == trainee.birth_date
        assert row.monthly_income == trainee.monthly_income
        assert (row.household_code is not None) == (trainee.monthly_income is not None)
        codes.add(row.household_code)
        assert [c.purpose for c in row.person.consents] == (
            ["loan-referral"] if trainee.consents_to_lenders else []
        )
    with_income = sum(t.monthly_income is not None for t in scenario.trainees)
    assert len(codes - {None}) == with_income  # a household of their own each
    assert with_income and any(t.consents_to_lenders for t in scenario.trainees)


def test_a_quoted_line_break_moves_the_later_lines() -> None:
    scenario = ieat_2019_pilot(seed=3, size=3)
    first = dataclasses.replace(scenario.trainees[0], last_name="ศรี\nสุข")
    scenario = dataclasses.replace(scenario, trainees=[first, *scenario.trainees[1:]])
    content, lines = registration_csv(scenario, "r1")
    found = Records().feed(content, final=True)
    assert [line for line, _ in found[1:]] == lines == [2, 4, 5]


def test_household_codes_are_fresh_each_run() -> None:
    scenario = suphan_buri_beauticians()
    one, _ = registration_csv(scenario, "aaa111")
    two, _ = registration_csv(scenario, "bbb222")
    assert b"-aaa111-" in one and b"-aaa111-" not in two
