"""What training does with registry facts beyond the replica (shared.replica keeps that):
an erased person's open applications are withdrawn and their seats refilled, a merged
person's applications move to the survivor, and the trainers cohorts may name."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.handlers import seats
from services.training.tables import KnownMembership, KnownPerson, KnownTrainer
from shared import replica
from shared.events import PersonErased, PersonMerged, TrainerRegistered


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    """Keep only the tombstone; open applications are withdrawn and their seats refilled."""
    await replica.retire_person(
        session,
        KnownPerson,
        event.person_id,
        replica.ERASED,
        clear=("village_code",),
        erased_at=event.erased_at,
    )
    await replica.forget_membership(session, KnownMembership, event.person_id)
    await seats.withdraw_everywhere(session, event.person_id, "person erased", at=event.erased_at)


async def on_person_merged(session: AsyncSession, event: PersonMerged) -> None:
    await replica.retire_person(
        session, KnownPerson, event.person_id, replica.MERGED, survivor_id=event.survivor_id
    )
    await replica.forget_membership(session, KnownMembership, event.person_id)
    await seats.merge_applications(session, event.person_id, event.survivor_id, event.merged_at)


async def on_trainer_registered(session: AsyncSession, event: TrainerRegistered) -> None:
    trainer = await session.get(KnownTrainer, event.trainer_id) or KnownTrainer(
        trainer_id=event.trainer_id, occupations=[], role=event.role
    )
    trainer.person_id = event.person_id
    trainer.occupations = list(event.occupations)
    trainer.village_code = event.village_code
    trainer.role = event.role
    session.add(trainer)
