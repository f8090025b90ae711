"""Community trainers (sages): who teaches which occupations in which village.

CDD's Sammachiv model: one sage per village is trained as the lead trainer and picks four
more, so a village has at most one lead and four members. Name and phone are personal
data: they stay in the registry and never travel in TrainerRegistered.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit
from services.registry.domain import check_village_team, occupations_stored
from services.registry.handlers.common import stage
from services.registry.handlers.places import get_village
from services.registry.schemas import TrainerIn
from services.registry.tables import Person, Trainer
from shared.db import get_or_404, lock_aggregate, where_equal
from shared.errors import Conflict, DomainError
from shared.events import TrainerRegistered


async def register(
    session: AsyncSession, actor: str, cmd: TrainerIn, *, now: datetime | None = None
) -> Trainer:
    now = now or datetime.now(UTC)
    if cmd.person_id is None and cmd.display_name is None:
        raise DomainError(
            "give a display_name, or the person_id of a registered person", field="display_name"
        )
    if cmd.person_id is not None:
        person = await session.get(Person, cmd.person_id)
        if person is None or person.status != "active":
            raise DomainError(f"no active person {cmd.person_id}", field="person_id")
    if cmd.village_code is not None:
        await get_village(session, cmd.village_code)
        # Two registrations for one village must not both pass the caps below.
        await lock_aggregate(session, f"registry:village-trainers:{cmd.village_code}")
        team = (
            await session.exec(select(Trainer).where(Trainer.village_code == cmd.village_code))
        ).all()
        if cmd.person_id is not None:
            same = [t for t in team if t.person_id == cmd.person_id]
            if same:
                raise Conflict(
                    "this person is already a trainer in this village",
                    field="person_id",
                    existing_trainer_id=same[0].trainer_id,
                )
        check_village_team(
            cmd.role,
            leads=sum(t.role == "lead" for t in team),
            members=sum(t.role == "member" for t in team),
        )
    trainer = Trainer(
        trainer_id=str(uuid.uuid4()),
        person_id=cmd.person_id,
        display_name=cmd.display_name,
        phone=cmd.phone,
        occupations=",".join(cmd.occupations),
        village_code=cmd.village_code,
        role=cmd.role,
        registered_at=now,
    )
    session.add(trainer)
    stage(
        session,
        TrainerRegistered(
            trainer_id=trainer.trainer_id,
            person_id=cmd.person_id,
            occupations=cmd.occupations,
            village_code=cmd.village_code,
            role=cmd.role,
            registered_at=now,
        ),
    )
    audit.record(
        session,
        actor=actor,
        action="trainer.registered",
        entity_type="trainer",
        entity_id=trainer.trainer_id,
        fields=[name for name, value in cmd.model_dump().items() if value is not None],
        at=now,
    )
    return trainer


def occupations_of(trainer: Trainer) -> list[str]:
    return occupations_stored(trainer.occupations)


async def list_trainers(
    session: AsyncSession,
    *,
    village_code: str | None = None,
    occupation: str | None = None,
    role: str | None = None,
    limit: int = 1000,
) -> list[Trainer]:
    query = where_equal(
        select(Trainer),
        {Trainer.village_code: village_code, Trainer.role: role},
        blank_is_unset=True,
    )
    if occupation:
        # Whole codes only: "mechanic" must not match "boat-mechanic". The caller's code
        # is validated (letters, digits, hyphens), so it holds no LIKE wildcards.
        query = query.where(("," + col(Trainer.occupations) + ",").like(f"%,{occupation},%"))
    query = query.order_by(col(Trainer.registered_at), col(Trainer.trainer_id)).limit(limit)
    return list((await session.exec(query)).all())


async def get(session: AsyncSession, trainer_id: str) -> Trainer:
    return await get_or_404(
        session, Trainer, trainer_id, what="trainer", field="trainer_id", quoted=False
    )
