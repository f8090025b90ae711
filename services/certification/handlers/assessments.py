"""Assessment sessions, their candidates and results per competency unit.

A session assesses one standard with a known assessor organisation (from the registry's
events). The assessment centre registers candidates (it checks the ID card, so the
holder's name comes from here) on the training route or with evidence of experience.
Results decide pass or fail once; the same results again change nothing, different ones
are a 409. A pass on the training route waits for TrainingCompleted (either order).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.domain import AssessmentStatus, Route
from services.certification.handlers import certificates
from services.certification.handlers.certificates import Issuing
from services.certification.handlers.common import (
    lock_person,
    stage,
    standard,
    standards_for,
    units_of,
)
from services.certification.tables import (
    Assessment,
    AssessmentSession,
    Candidate,
    Holder,
    KnownOrganisation,
    Standard,
    TrainingRecord,
)
from shared.batch import Delivered
from shared.db import get_or_404
from shared.errors import Conflict, DomainError, Gone, NotFound
from shared.events import AssessmentFailed
from shared.replica import known_organisation

ASSESSOR = "assessor"


@dataclass(frozen=True)
class NewSession:
    code: str
    standard_code: str
    assessor_code: str
    held_on: date
    venue: str | None = None


async def create_session(session: AsyncSession, cmd: NewSession) -> tuple[AssessmentSession, bool]:
    """The session, and whether it was created (False: the same one existed)."""
    existing = await session.get(AssessmentSession, cmd.code)
    wanted = {k: v for k, v in cmd.__dict__.items() if k != "code"}
    if existing is not None:
        differs = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
        if differs:
            raise Conflict(
                f"session {cmd.code!r} exists with different {', '.join(differs)}",
                field=differs[0],
                differs=differs,
            )
        return existing, False
    await standard(session, cmd.standard_code)
    assessor = await known_organisation(
        session,
        KnownOrganisation,
        cmd.assessor_code,
        service="certification",
        field="assessor_code",
    )
    if assessor.kind != ASSESSOR:
        raise DomainError(
            f"organisation {cmd.assessor_code!r} is a {assessor.kind}, not an assessor",
            field="assessor_code",
        )
    row = AssessmentSession(code=cmd.code, created_at=datetime.now(UTC), **wanted)
    session.add(row)
    return row, True


async def session_of(session: AsyncSession, code: str) -> AssessmentSession:
    return await get_or_404(
        session, AssessmentSession, code, what="assessment session", field="session_code"
    )


@dataclass(frozen=True)
class NewCandidate:
    person_id: str
    full_name: str
    route: Route
    evidence_description: str | None = None
    evidence_years: int | None = None


async def register_candidates(
    session: AsyncSession, code: str, candidates: Sequence[NewCandidate]
) -> list[tuple[Candidate, bool]]:
    """Each candidate, and whether newly registered. The name is the one the centre read
    from the ID card: the latest recorded is the holder's name on credentials."""
    await session_of(session, code)
    now = datetime.now(UTC)
    # The holders and the session's candidates in one query each, not two per candidate.
    people = sorted({cmd.person_id for cmd in candidates})
    holders = {
        h.person_id: h
        for h in (await session.exec(select(Holder).where(col(Holder.person_id).in_(people))))
    }
    registered = {
        c.person_id: c
        for c in await session.exec(
            select(Candidate).where(
                Candidate.session_code == code, col(Candidate.person_id).in_(people)
            )
        )
    }
    out = []
    for i, cmd in enumerate(candidates):
        holder = holders.get(cmd.person_id)
        if holder is not None and holder.erased_at is not None:
            raise Gone(f"person {cmd.person_id} was erased", field=f"candidates.{i}.person_id")
        if holder is None:
            holder = Holder(person_id=cmd.person_id, full_name=cmd.full_name, recorded_at=now)
            holders[cmd.person_id] = holder
            session.add(holder)
        elif holder.full_name != cmd.full_name:
            holder.full_name = cmd.full_name
            holder.recorded_at = now
            session.add(holder)
        existing = registered.get(cmd.person_id)
        wanted = {
            "route": cmd.route.value,
            "evidence_description": cmd.evidence_description,
            "evidence_years": cmd.evidence_years,
        }
        if existing is not None:
            differs = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
            if differs:
                raise Conflict(
                    f"{cmd.person_id} is registered for {code} with different {', '.join(differs)}",
                    field=f"candidates.{i}.{differs[0]}",
                )
            out.append((existing, False))
            continue
        row = Candidate(
            session_code=code,
            person_id=cmd.person_id,
            route=cmd.route.value,
            evidence_description=cmd.evidence_description,
            evidence_years=cmd.evidence_years,
            registered_at=now,
        )
        session.add(row)
        registered[cmd.person_id] = row
        out.append((row, True))
    return out


@dataclass(frozen=True)
class Results:
    person_id: str
    units: dict[str, bool] = field(default_factory=dict)  # unit code -> passed


@dataclass(frozen=True)
class Recorded:
    assessment: Assessment
    created: bool


async def record_results(
    session: AsyncSession, code: str, batch: Sequence[Results], issuing: Issuing
) -> list[Recorded]:
    """Decide each candidate's assessment from their unit results, once."""
    assessment_session = await session_of(session, code)
    std = await standard(session, assessment_session.standard_code)
    units = units_of(std)
    people = [r.person_id for r in batch]
    if len(set(people)) != len(people):
        raise DomainError("a person appears twice in one batch", field="results")
    for person_id in sorted(people):  # one lock order, so two batches cannot deadlock
        await lock_person(session, person_id)
    # Read after the locks, in three queries for the whole batch (not three per person).
    candidates = {
        c.person_id: c
        for c in (
            await session.exec(
                select(Candidate).where(
                    Candidate.session_code == code, col(Candidate.person_id).in_(people)
                )
            )
        ).all()
    }
    decided = {
        a.person_id: a
        for a in (
            await session.exec(
                select(Assessment).where(
                    Assessment.session_code == code, col(Assessment.person_id).in_(people)
                )
            )
        ).all()
    }
    trained = set(
        (
            await session.exec(
                select(TrainingRecord.person_id).where(
                    TrainingRecord.occupation == std.occupation,
                    col(TrainingRecord.person_id).in_(people),
                )
            )
        ).all()
    )
    out = []
    for i, result in enumerate(batch):
        candidate = candidates.get(result.person_id)
        if candidate is None:
            raise NotFound(
                f"{result.person_id} is not a candidate of session {code}",
                field=f"results.{i}.person_id",
            )
        try:
            decision = domain.decide(units, result.units)
        except DomainError as error:
            raise DomainError(error.message, field=f"results.{i}.units") from None
        existing = decided.get(result.person_id)
        if existing is not None:
            if existing.results != result.units:
                raise Conflict(
                    f"results for {result.person_id} in {code} were recorded and decided "
                    f"({existing.status}); they cannot change",
                    field=f"results.{i}",
                    assessment_id=existing.assessment_id,
                )
            out.append(Recorded(existing, created=False))
            continue
        assessment = await _decide(
            session, candidate, std, result, decision, result.person_id in trained, issuing
        )
        out.append(Recorded(assessment, True))
    return out


async def _decide(
    session: AsyncSession,
    candidate: Candidate,
    std: Standard,
    result: Results,
    decision: domain.Decision,
    trained: bool,
    issuing: Issuing,
) -> Assessment:
    now = datetime.now(UTC)
    eligible = Route(candidate.route) == Route.EXPERIENCE or trained
    assessment = Assessment(
        assessment_id=str(uuid.uuid4()),
        session_code=candidate.session_code,
        person_id=candidate.person_id,
        standard_code=std.code,
        occupation=std.occupation,
        level=std.level,
        route=candidate.route,
        results=dict(result.units),
        passed=decision.passed,
        failed_units=list(decision.failed_units),
        status=domain.outcome(decision.passed, eligible),
        assessed_at=now,
    )
    session.add(assessment)
    if assessment.status == AssessmentStatus.FAILED:
        # The event tells the row as recorded: the same ids, occupation, level and units.
        stage(session, AssessmentFailed.model_validate(assessment, from_attributes=True))
    elif assessment.status == AssessmentStatus.AWARDED:
        await certificates.issue(session, assessment, std, issuing)
    return assessment


async def award_waiting(
    session: AsyncSession, person_id: str, occupation: str, issuing: Issuing
) -> None:
    """Passes on the training route that waited for this training: awarded now. The
    caller holds the person's lock."""
    await award_waiting_many(session, [(person_id, occupation)], issuing)


async def award_waiting_many(
    session: AsyncSession,
    trained: Sequence[tuple[str, str]],
    issuing: Issuing,
    spans: Mapping[str, Delivered[Any]] | None = None,
) -> None:
    """`award_waiting` for many (person, occupation) in a fixed number of queries; the
    caller holds the people's locks."""
    wanted = set(trained)
    waiting = [
        a
        for a in (
            await session.exec(
                select(Assessment).where(
                    col(Assessment.person_id).in_(sorted({p for p, _ in wanted})),
                    Assessment.status == AssessmentStatus.AWAITING_TRAINING,
                )
            )
        ).all()
        if (a.person_id, a.occupation) in wanted
    ]
    if not waiting:
        return
    standards = await standards_for(session, waiting)
    for assessment in waiting:
        assessment.status = AssessmentStatus.AWARDED
    await certificates.issue_many(
        session, [(a, standards[a.assessment_id]) for a in waiting], issuing, spans
    )
