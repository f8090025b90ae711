"""The shared occupation vocabulary and the shipped standards cover each other: every
occupation a programme may offer has a standard, and every standard names one of them."""

from __future__ import annotations

import pytest

from services.certification.handlers import standards
from shared import occupations
from shared.errors import DomainError


def test_every_occupation_has_a_shipped_standard_and_every_standard_an_occupation() -> None:
    shipped = standards.shipped()
    assert {s.occupation for s in shipped} == set(occupations.OCCUPATIONS)
    for standard in shipped:
        assert standard.occupation_title == occupations.OCCUPATIONS[standard.occupation]


def test_an_unknown_occupation_is_refused_naming_its_place() -> None:
    occupations.check_all(["gardener", "beautician"], "occupations")
    with pytest.raises(DomainError) as caught:
        occupations.check_all(["gardener", "soap-making"], "occupations")
    assert caught.value.field == "occupations.1" and caught.value.status == 422
    assert "no occupational standard covers 'soap-making'" in caught.value.message
