"""Registry rules: identity and consent. Pure: no I/O."""

from __future__ import annotations

from stdnum.exceptions import ValidationError
from stdnum.th import pin

from shared.errors import DomainError

LOAN_REFERRAL = "loan-referral"
PURPOSES = frozenset({LOAN_REFERRAL})


def national_id(value: str) -> str:
    """The compact 13-digit Thai personal ID, or DomainError saying what is wrong with it."""
    try:
        return str(pin.validate(value))
    except ValidationError as error:
        raise DomainError(f"not a valid Thai national ID: {error}", field="national_id") from error
