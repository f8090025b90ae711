"""From a person id to the subject their rows are kept under (tables.py)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.tables import Redirect

MAX_HOPS = 8  # merge chains are short; a cycle (never written) must not loop for ever


def digest(person_id: str) -> str:
    """The subject of a person no one merged or erased."""
    return hashlib.sha256(person_id.encode()).hexdigest()


def anonymous() -> str:
    """A subject linked to no one (an erased person's, from then on)."""
    return uuid.uuid4().hex


async def subjects(session: AsyncSession, person_ids: Iterable[str]) -> dict[str, str]:
    """Each person's subject, through merges; one query for a batch (one more per merge
    hop). An erased person's later events each get a subject of their own."""
    own = {person_id: digest(person_id) for person_id in person_ids}
    found = await redirects(session, set(own.values()))
    out: dict[str, str] = {}
    for person_id, subject in own.items():
        hops = 0
        while subject in found and hops < MAX_HOPS:
            target = found[subject]
            if target is None:
                subject = anonymous()
                break
            if target not in found:
                found |= await redirects(session, {target})
            subject, hops = target, hops + 1
        out[person_id] = subject
    return out


async def redirects(session: AsyncSession, keys: set[str]) -> dict[str, str | None]:
    if not keys:
        return {}
    rows = await session.exec(select(Redirect).where(col(Redirect.subject).in_(sorted(keys))))
    return {row.subject: row.to_subject for row in rows.all()}
