"""What several training use cases share: staging an event, what every learner event says,
the cohort and application lookups."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.tables import Application, Cohort, Outbox
from shared import outbox
from shared.db import get_or_404, lock_aggregate
from shared.envelope import source_of
from shared.errors import NotFound
from shared.events import Event

SOURCE = source_of("training")


def stage(session: AsyncSession, event: Event) -> str:
    """Add the event to training's outbox in the caller's transaction."""
    return outbox.stage(session, Outbox, event, source=SOURCE)


def learner_facts(person_id: str, cohort: Cohort) -> dict[str, Any]:
    """What every learner event (and the application row) says of the person and cohort."""
    return {
        "person_id": person_id,
        "programme_code": cohort.programme_code,
        "cohort_code": cohort.code,
        "occupation": cohort.occupation,
    }


async def locked_cohort(session: AsyncSession, code: str) -> Cohort:
    """The cohort, with its seats serialised: every change to who sits where takes this
    lock first, so two transactions never both give away the last seat."""
    await lock_aggregate(session, f"training:cohort:{code}")
    cohort = await session.get(Cohort, code, with_for_update=True)
    if cohort is None:
        raise NotFound(f"no cohort {code!r}", field="cohort_code")
    return cohort


async def get_application(session: AsyncSession, app_id: str) -> Application:
    return await get_or_404(
        session, Application, app_id, what="application", field="application_id", quoted=False
    )
