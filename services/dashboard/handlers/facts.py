"""Events into the read model: each event fills its own columns of one row, found by the
row's key, so the topics can be read in any order and a replay lands where the live
consumer did. A run of one event type is worked with a fixed number of queries: one for
the people's subjects, one for the existing rows, and the flush's bulk writes.

An existing row keeps its key and subject; the event's other columns overwrite it where
the event says something (None leaves a column as another event filled it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.handlers.subjects import subjects
from services.dashboard.tables import Base
from shared.batch import Delivered
from shared.events import Event

Values = Callable[[Any, str | None], Mapping[str, object]]  # (event, subject) -> columns


@dataclass(frozen=True)
class Fact:
    """Where an event type goes: its table, the key columns (read off the event by the
    same names unless `key` says otherwise) and the columns it fills."""

    table: type[Base]
    key: tuple[str, ...]
    values: Values
    key_from: Callable[[Any], tuple[object, ...]] | None = None

    def key_of(self, event: Event, subject: str | None) -> tuple[object, ...]:
        """The row's key: `subject` is the person's (subjects.py), the rest the event's."""
        if self.key_from is not None:
            return self.key_from(event)
        return tuple(subject if name == "subject" else getattr(event, name) for name in self.key)


async def take_in(session: AsyncSession, fact: Fact, batch: Sequence[Delivered[Any]]) -> None:
    events = [d.event for d in batch]
    people = {e.person_id for e in events if isinstance(getattr(e, "person_id", None), str)}
    subject_of = await subjects(session, people)
    keyed = []
    for event in events:
        person_id = getattr(event, "person_id", None)
        subject = subject_of.get(person_id) if person_id else None
        keyed.append((event, subject, fact.key_of(event, subject)))
    rows = await existing(session, fact, [key for _, _, key in keyed])
    for event, subject, key in keyed:
        values = fact.values(event, subject)
        row = rows.get(key)
        if row is None:
            row = fact.table(**dict(zip(fact.key, key, strict=True)), **values)
            session.add(row)
            rows[key] = row
            continue
        for name, value in values.items():
            if value is not None and name != "subject":
                setattr(row, name, value)


async def existing(
    session: AsyncSession, fact: Fact, keys: list[tuple[object, ...]]
) -> dict[tuple[object, ...], Any]:
    columns = [getattr(fact.table, name) for name in fact.key]
    wanted = sorted(set(keys), key=repr)
    if len(columns) == 1:
        where = col(columns[0]).in_([k[0] for k in wanted])
    else:
        where = tuple_(*columns).in_(wanted)
    found = await session.exec(select(fact.table).where(where))
    return {tuple(getattr(row, name) for name in fact.key): row for row in found.all()}
