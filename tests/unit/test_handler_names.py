"""Every HANDLERS table routes an event to `on_<event_name_in_snake_case>`, so a reader
goes from an event's name to its handler without looking it up."""

from __future__ import annotations

import importlib
import re
from functools import partial

import pytest

SERVICES = ("training", "certification", "funding", "dashboard")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def handler_name(handler: object) -> str:
    while isinstance(handler, partial):
        handler = handler.func
    return getattr(handler, "__name__", repr(handler))


def test_snake_case() -> None:
    assert snake("HouseholdMemberJoined") == "household_member_joined"
    assert snake("PersonalDataShared") == "personal_data_shared"


@pytest.mark.parametrize("service", SERVICES)
def test_handlers_are_named_for_their_events(service: str) -> None:
    table = importlib.import_module(f"services.{service}.consumers").HANDLERS
    assert table, f"{service} follows no events"
    wrong = {
        event.__name__: handler_name(handler)
        for event, handler in table.items()
        if handler_name(handler) != f"on_{snake(event.__name__)}"
    }
    assert wrong == {}
