"""Erasure and merges: the rare events that move a person's rows to another subject.

Erased (PDPA): every row of the person moves to a random subject, and the person's own
subject is marked erased, so nothing in the read model can be found from their id any
more while each figure still counts them (docs/decisions/0017). Merged: the retired
record's rows join the survivor's.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.handlers.subjects import anonymous, digest, subjects
from services.dashboard.tables import BY_SUBJECT, Membership, Person, Redirect
from shared.events import PersonErased, PersonMerged


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    subject = (await subjects(session, [event.person_id]))[event.person_id]
    await move(session, subject, anonymous())
    await redirect(session, digest(event.person_id), None)


async def on_person_merged(session: AsyncSession, event: PersonMerged) -> None:
    found = await subjects(session, [event.person_id, event.survivor_id])
    retired, survivor = found[event.person_id], found[event.survivor_id]
    if retired == survivor:
        return  # told before
    # The retired record's registration is not a second person: the survivor's counts.
    survivor_known = await session.get(Person, survivor)
    if survivor_known is None:
        await session.exec(
            update(Person).where(col(Person.subject) == retired).values(subject=survivor)
        )
    else:
        await session.exec(delete(Person).where(col(Person.subject) == retired))
    await move(session, retired, survivor)
    await redirect(session, digest(event.person_id), survivor)


async def move(session: AsyncSession, old: str, new: str) -> None:
    """Every row under `old` now under `new` (one statement per table)."""
    # A household both records belonged to keeps one membership.
    both = select(Membership.household_id).where(col(Membership.subject) == new)
    await session.exec(
        delete(Membership).where(
            col(Membership.subject) == old, col(Membership.household_id).in_(both)
        )
    )
    for table in BY_SUBJECT:
        subject = table.subject  # type: ignore[attr-defined]
        await session.exec(update(table).where(subject == old).values(subject=new))
    if new != old:
        await session.exec(update(Person).where(col(Person.subject) == old).values(subject=new))


async def redirect(session: AsyncSession, subject: str, to: str | None) -> None:
    row = await session.get(Redirect, subject)
    if row is None:
        session.add(Redirect(subject=subject, to_subject=to))
    else:
        row.to_subject = to
        session.add(row)
