"""The occupations SkillBridge trains and certifies for: one vocabulary for every service.

Certification's standards must name one of these, and training's programmes and courses
may offer only these, so every occupation a programme trains for has a standard that
certifies it (a shipped one for each: tests/unit/test_occupations.py). A new occupation is
added here, with its standards in certification's data (docs/decisions/0015).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import DomainError

OCCUPATIONS: dict[str, str] = {
    "beautician": "Beautician",
    "community-enterprise-product-processing": "Community-enterprise product processing",
    "driver": "Driver",
    "electrician": "Electrician",
    "electronics-mobile-phone-repair": "Electronics and mobile-phone repair",
    "food-and-beverage-production": "Food and beverage production",
    "gardener": "Gardener",
    "health-massage": "Health massage",
    "housekeeper": "Housekeeper",
    "mechanic": "Mechanic",
    "plumber": "Plumber",
    "security-guard": "Security guard",
    "small-boat-engine-repair": "Small-boat engine repair",
}


def check(occupation: str, field: str) -> None:
    """A DomainError (422) on `field` unless the occupation is in the vocabulary."""
    if occupation not in OCCUPATIONS:
        raise DomainError(
            f"no occupational standard covers {occupation!r}: occupations are "
            f"{', '.join(OCCUPATIONS)}",
            field=field,
        )


def check_all(occupations: Sequence[str], field: str) -> None:
    for i, occupation in enumerate(occupations):
        check(occupation, f"{field}.{i}")
