"""Which events the dashboard follows (every broadcast event that moves a figure), and the
handler for each: `handlers/rows.py` fills one row per event; erasure and merges move a
person's rows (`handlers/people.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.dashboard.handlers import people, rows
from shared.events import Event, PersonErased, PersonMerged

HANDLERS: dict[type[Event], Callable[..., Awaitable[object]]] = {
    **rows.HANDLERS,
    PersonErased: people.on_person_erased,
    PersonMerged: people.on_person_merged,
}
