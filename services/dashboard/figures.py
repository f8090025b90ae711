"""The figures, computed from the read model: a handful of queries (one per table), then
the journeys joined in memory. A journey is one application; its certificate is the
person's certificate of the same occupation, its referrals those of that certificate.

The funnel's stages, as counted (tests/browser recomputes them from the topics):
- registered: overall, every person the registry told of; per programme, the applicants
  the registry told of (whoever applies has registered);
- applied, enrolled, completed: the programme's applications that reached each;
- certified: completed applications whose person holds a certificate of the occupation;
- referred, acknowledged, approved, disbursed: certified applications with a referral
  (on that certificate) that was sent to the lender (LoanReferralCreated), acknowledged,
  approved, disbursed.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.live import Changes
from services.dashboard.schemas import (
    STAGES,
    STEPS,
    BandRow,
    DropOut,
    Figures,
    Filters,
    Funnel,
    FunnelFigure,
    LenderRow,
    LendersFigure,
    OutcomeRow,
    OutcomesFigure,
    SelectionFigure,
    StageCount,
    StepTime,
    TargetRow,
    TargetsFigure,
    TimeToCreditFigure,
    TimeToCreditRow,
    VillageSeatsRow,
)
from services.dashboard.tables import (
    Application,
    AssessmentFailure,
    Certificate,
    Cohort,
    Household,
    HouseholdIncome,
    Inbox,
    Membership,
    Person,
    Product,
    Programme,
    Referral,
    Village,
)

EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
# A computed figure is kept this long at most while no event arrives (SLA breaches move
# with the clock, not only with events).
KEEP_SECONDS = 60.0


class Cached:
    """`compute`, once per read-model version (live.Changes) and filters: the page, its
    live refreshes and the JSON figures share one computation until the next event."""

    def __init__(self, changes: Changes, keep_seconds: float = KEEP_SECONDS) -> None:
        self._changes = changes
        self._keep = keep_seconds
        self._memo: dict[str, tuple[int, float, Figures]] = {}
        self._lock = asyncio.Lock()

    async def __call__(self, session: AsyncSession, filters: Filters) -> Figures:
        key = filters.model_dump_json()
        if (hit := self._fresh(key)) is not None:
            return hit
        async with self._lock:  # one computation at a time; the others wait and share it
            if (hit := self._fresh(key)) is not None:
                return hit
            version = self._changes.version  # read first: a batch committed meanwhile
            figures = await compute(session, filters)  # makes the next request compute
            self._memo = {k: v for k, v in self._memo.items() if v[0] == version}
            self._memo[key] = (version, time.monotonic(), figures)
            return figures

    def _fresh(self, key: str) -> Figures | None:
        found = self._memo.get(key)
        if found is None:
            return None
        version, at, figures = found
        if version != self._changes.version or time.monotonic() - at > self._keep:
            return None
        return figures


@dataclass
class Journey:
    application: Application
    person: Person | None
    certificate: Certificate | None = None
    referrals: list[Referral] = field(default_factory=list)
    sent: list[Referral] = field(default_factory=list)  # the referrals the lender was told of


@dataclass
class Model:
    """What the figures are computed from, read once per request."""

    programmes: dict[str, Programme]
    cohorts: dict[str, Cohort]
    villages: dict[str, Village]
    products: dict[str, Product]
    people: dict[str, Person]
    journeys: list[Journey]
    referrals: list[Referral]  # the lender filter applied
    failures: dict[tuple[str, str], list[AssessmentFailure]]
    households: dict[str, Household]
    membership: dict[str, str]  # subject -> household
    incomes: dict[str, list[HouseholdIncome]]  # household -> by recorded_at
    events: int
    filters: Filters


async def compute(
    session: AsyncSession, filters: Filters, *, now: datetime | None = None
) -> Figures:
    model = await load(session, filters)
    now = now or datetime.now(UTC)
    return Figures(
        as_of=newest(model),
        events=model.events,
        funnel=funnel(model),
        targets=targets(model),
        time_to_credit=time_to_credit(model, now),
        lenders=lenders(model, now),
        selection=selection(model),
        outcomes=outcomes(model),
    )


def rows_of(table: type) -> Any:
    """A table's rows as plain rows (attribute access by column name), not ORM objects:
    building ten thousand instances cost more than the query (profiled: 4 s of 6)."""
    return core_select(*table.__table__.columns)  # type: ignore[attr-defined]


async def load(session: AsyncSession, filters: Filters) -> Model:
    async def every(table: type) -> list[Any]:
        return list((await session.exec(rows_of(table))).all())

    programmes = {p.code: p for p in await every(Programme)}
    people = {p.subject: p for p in await every(Person)}
    query = rows_of(Application)
    if filters.programme:
        query = query.where(col(Application.programme_code) == filters.programme)
    if filters.occupation:
        query = query.where(col(Application.occupation) == filters.occupation)
    if filters.year is not None:
        codes = [c for c, p in programmes.items() if p.year == filters.year]
        query = query.where(col(Application.programme_code).in_(codes))
    applications = list((await session.exec(query)).all())
    if filters.province:
        applications = [
            a
            for a in applications
            if (person := people.get(a.subject)) is not None
            and person.province_code == filters.province
        ]
    certificates: dict[tuple[str, str], Certificate] = {}
    for cert in sorted(await every(Certificate), key=lambda c: c.awarded_at or LATEST):
        if cert.awarded_at is not None:
            certificates.setdefault((cert.subject, cert.occupation), cert)
    referrals = [
        r for r in await every(Referral) if not filters.lender or r.lender_code == filters.lender
    ]
    by_certificate: dict[str, list[Referral]] = defaultdict(list)
    for referral in referrals:
        if referral.certificate_number:
            by_certificate[referral.certificate_number].append(referral)
    journeys = []
    for application in applications:
        journey = Journey(application, people.get(application.subject))
        if application.completed_at is not None:
            journey.certificate = certificates.get((application.subject, application.occupation))
            if journey.certificate is not None:
                journey.referrals = by_certificate.get(journey.certificate.certificate_number, [])
                journey.sent = [r for r in journey.referrals if r.created_at is not None]
        journeys.append(journey)
    failures: dict[tuple[str, str], list[AssessmentFailure]] = defaultdict(list)
    for failure in await every(AssessmentFailure):
        failures[(failure.subject, failure.occupation)].append(failure)
    incomes: dict[str, list[HouseholdIncome]] = defaultdict(list)
    for income in sorted(await every(HouseholdIncome), key=lambda i: i.recorded_at):
        incomes[income.household_id].append(income)
    membership: dict[str, str] = {}
    for member in sorted(
        await every(Membership),
        key=lambda m: (m.left_at is None, m.joined_at or EARLIEST),
    ):
        membership[member.subject] = member.household_id  # the current household wins
    events = (await session.exec(select(func.count()).select_from(Inbox))).one()
    return Model(
        programmes=programmes,
        cohorts={c.code: c for c in await every(Cohort)},
        villages={v.village_code: v for v in await every(Village)},
        products={p.code: p for p in await every(Product)},
        people=people,
        journeys=journeys,
        referrals=referrals,
        failures=failures,
        households={h.household_id: h for h in await every(Household)},
        membership=membership,
        incomes=incomes,
        events=int(events),
        filters=filters,
    )


def newest(model: Model) -> datetime | None:
    moments = [
        moment
        for j in model.journeys
        for moment in (
            j.application.applied_at,
            j.application.enrolled_at,
            j.application.completed_at,
            j.certificate.awarded_at if j.certificate else None,
        )
        if moment is not None
    ] + [
        moment
        for r in model.referrals
        for moment in (r.created_at, r.held_at, r.approved_at, r.declined_at, r.disbursed_at)
        if moment is not None
    ]
    return max(moments, default=None)


# --- funnel --------------------------------------------------------------------------------


def reached(journey: Journey) -> dict[str, bool]:
    a, sent = journey.application, journey.sent
    certified = a.completed_at is not None and journey.certificate is not None
    return {
        "registered": journey.person is not None and journey.person.registered_at is not None,
        "applied": True,
        "enrolled": a.enrolled_at is not None,
        "completed": a.completed_at is not None,
        "certified": certified,
        "referred": certified and bool(sent),
        "acknowledged": certified and any(r.acknowledged_at for r in sent),
        "approved": certified and any(r.approved_at for r in sent),
        "disbursed": certified and any(r.disbursed_at for r in sent),
    }


def drop_outs(model: Model, journeys: Sequence[Journey]) -> list[DropOut]:
    counts: Counter[tuple[str, str]] = Counter()
    for journey in journeys:
        a = journey.application
        if a.waitlisted_at is not None and a.enrolled_at is None:
            counts[("waitlisted", a.waitlist_reason or "waitlisted")] += 1
        if a.withdrew_at is not None:
            counts[("withdrew", a.withdraw_reason or "withdrew")] += 1
        if a.not_completed_at is not None:
            counts[("not-completed", a.not_completed_reason or "not-completed")] += 1
        if a.completed_at is not None and journey.certificate is None:
            units = {
                unit
                for failure in model.failures.get((a.subject, a.occupation), [])
                for unit in failure.failed_units
            }
            for unit in sorted(units) or ["failed-units"]:
                if model.failures.get((a.subject, a.occupation)):
                    counts[("failed-units", unit)] += 1
        waiting = [
            r
            for r in journey.referrals
            if r.held_at and not r.created_at and not r.cancelled_at and not r.expired_at
        ]
        if journey.certificate is not None and waiting and not journey.sent:
            counts[("held-for-consent", "consent")] += 1
        for kind, reasons in (
            (
                "declined",
                {r.decline_reason or "declined" for r in journey.referrals if r.declined_at},
            ),
            ("expired", {"expired" for r in journey.referrals if r.expired_at}),
            (
                "cancelled",
                {r.cancel_reason or "cancelled" for r in journey.referrals if r.cancelled_at},
            ),
        ):
            for reason in reasons:
                counts[(kind, reason)] += 1
    return [
        DropOut(kind=kind, reason=reason, people=n) for (kind, reason), n in sorted(counts.items())
    ]


def one_funnel(
    model: Model, journeys: Sequence[Journey], code: str | None, registered: int | None = None
) -> Funnel:
    counts = Counter(stage for j in journeys for stage, yes in reached(j).items() if yes)
    if registered is not None:
        counts["registered"] = registered
    programme = model.programmes.get(code) if code else None
    return Funnel(
        programme_code=code,
        programme_name=programme.name if programme else None,
        stages=[StageCount(stage=s, people=counts[s]) for s in STAGES],
        drop_outs=drop_outs(model, journeys),
    )


def funnel(model: Model) -> FunnelFigure:
    by_programme: dict[str, list[Journey]] = defaultdict(list)
    for journey in model.journeys:
        by_programme[journey.application.programme_code].append(journey)
    narrowed = any((model.filters.programme, model.filters.year, model.filters.occupation))
    everyone = sum(
        1
        for p in model.people.values()
        if p.registered_at is not None
        and (not model.filters.province or p.province_code == model.filters.province)
    )
    return FunnelFigure(
        overall=one_funnel(model, model.journeys, None, None if narrowed else everyone),
        programmes=[
            one_funnel(model, journeys, code) for code, journeys in sorted(by_programme.items())
        ],
    )


# --- targets -------------------------------------------------------------------------------


def targets(model: Model) -> TargetsFigure:
    completed = [j for j in model.journeys if j.application.completed_at is not None]
    rows: list[TargetRow] = []
    shown = {j.application.programme_code for j in model.journeys}
    for code, programme in sorted(model.programmes.items()):
        if model.filters.programme and code != model.filters.programme:
            continue
        if model.filters.year is not None and programme.year != model.filters.year:
            continue
        if code not in shown and (model.filters.occupation or model.filters.province):
            continue
        mine = [j for j in completed if j.application.programme_code == code]
        name = programme.name or code
        if programme.target_total is not None:
            rows.append(
                row(programme, name, "programme", None, None, programme.target_total, len(mine))
            )
        for target in programme.targets:
            kind, place = str(target["place_kind"]), str(target["place_code"])
            achieved = sum(1 for j in mine if at_place(model, j, kind, place))
            rows.append(
                row(
                    programme,
                    name,
                    kind,
                    place,
                    place_name(model, kind, place),
                    int(str(target["target"])),
                    achieved,
                )
            )
    return TargetsFigure(rows=rows)


def row(
    programme: Programme,
    name: str,
    kind: str,
    code: str | None,
    place: str | None,
    target: int,
    achieved: int,
) -> TargetRow:
    percent = round(100 * achieved / target, 1) if target else 0.0
    return TargetRow(
        programme_code=programme.code,
        programme_name=name,
        year=programme.year or 0,
        place_kind=kind,
        place_code=code,
        place_name=place,
        target=target,
        achieved=achieved,
        percent=percent,
    )


def at_place(model: Model, journey: Journey, kind: str, code: str) -> bool:
    """Trained at the place: the cohort's venue is it, or (province, village) the person
    lives there."""
    cohort = model.cohorts.get(journey.application.cohort_code)
    if cohort is not None and cohort.venue_kind == kind and cohort.venue_code == code:
        return True
    person = journey.person
    if person is None:
        return False
    return (kind == "province" and person.province_code == code) or (
        kind == "village" and person.village_code == code
    )


def place_name(model: Model, kind: str, code: str) -> str | None:
    if kind == "village" and code in model.villages:
        return model.villages[code].name
    for cohort in model.cohorts.values():
        if cohort.venue_kind == kind and cohort.venue_code == code and cohort.venue_name:
            return cohort.venue_name
    return None


# --- time to credit and lenders ------------------------------------------------------------


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..1) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p * len(ordered)) - 1, 0)]


def decided_at(referral: Referral) -> datetime | None:
    return referral.approved_at or referral.declined_at


def breached(referral: Referral, product: Product | None, now: datetime) -> bool:
    """No decision within the product's SLA from when the lender was told."""
    if product is None or product.sla_days is None or referral.created_at is None:
        return False
    due = referral.created_at + timedelta(days=product.sla_days)
    decided = decided_at(referral)
    if decided is not None:
        return decided > due
    if referral.cancelled_at is not None:
        return False
    return referral.expired_at is not None or now > due


def time_to_credit(model: Model, now: datetime) -> TimeToCreditFigure:
    groups: dict[tuple[str, str], list[tuple[Journey, Referral]]] = defaultdict(list)
    for journey in model.journeys:
        for referral in journey.sent:
            groups[(referral.lender_code, referral.product_code)].append((journey, referral))
    rows = []
    for (lender, product_code), items in sorted(groups.items()):
        product = model.products.get(product_code)
        durations: dict[str, list[float]] = {step: [] for step in STEPS}
        for journey, referral in items:
            a, cert = journey.application, journey.certificate
            awarded = cert.awarded_at if cert else None
            for step, value in (
                ("completion_to_certificate", seconds(a.completed_at, awarded)),
                ("certificate_to_referral", seconds(awarded, referral.created_at)),
                ("referral_to_decision", seconds(referral.created_at, decided_at(referral))),
                ("decision_to_disbursement", seconds(referral.approved_at, referral.disbursed_at)),
                ("completion_to_disbursement", seconds(a.completed_at, referral.disbursed_at)),
            ):
                if value is not None:
                    durations[step].append(value)
        rows.append(
            TimeToCreditRow(
                lender_code=lender,
                lender_name=product.lender_name if product else None,
                product_code=product_code,
                product_name=product.name if product else None,
                sla_days=product.sla_days if product else None,
                referrals=len(items),
                breached=sum(1 for _, r in items if breached(r, product, now)),
                steps=[
                    StepTime(
                        step=step,
                        n=len(values),
                        median_seconds=statistics.median(values) if values else None,
                        p90_seconds=percentile(values, 0.9),
                    )
                    for step, values in durations.items()
                ],
            )
        )
    return TimeToCreditFigure(rows=rows)


def lenders(model: Model, now: datetime) -> LendersFigure:
    journeys_of = {r.referral_id for j in model.journeys for r in j.referrals}
    groups: dict[tuple[str, str], list[Referral]] = defaultdict(list)
    for referral in model.referrals:
        if referral.referral_id in journeys_of:
            groups[(referral.lender_code, referral.product_code)].append(referral)
    rows = []
    for (lender, product_code), items in sorted(groups.items()):
        product = model.products.get(product_code)
        approved = sum(1 for r in items if r.approved_at)
        declined = sum(1 for r in items if r.declined_at)
        rows.append(
            LenderRow(
                lender_code=lender,
                lender_name=product.lender_name if product else None,
                product_code=product_code,
                product_name=product.name if product else None,
                referrals=len(items),
                held=sum(
                    1
                    for r in items
                    if r.held_at and not r.created_at and not r.cancelled_at and not r.expired_at
                ),
                acknowledged=sum(1 for r in items if r.acknowledged_at),
                approved=approved,
                declined=declined,
                approval_rate=round(100 * approved / (approved + declined), 1)
                if approved + declined
                else None,
                disbursed=sum(1 for r in items if r.disbursed_at),
                amount_approved=sum(r.approved_amount or 0 for r in items if r.approved_at),
                amount_disbursed=sum(r.disbursed_amount or 0 for r in items if r.disbursed_at),
            )
        )
    return LendersFigure(rows=rows)


# --- fair selection and outcomes -----------------------------------------------------------


def band_at(model: Model, household: str | None, moment: datetime | None) -> HouseholdIncome | None:
    """The household's band as it stood at `moment` (its first record if none before)."""
    records = model.incomes.get(household or "", [])
    if not records:
        return None
    before = [r for r in records if moment is None or r.recorded_at <= moment]
    return before[-1] if before else records[0]


def selection(model: Model) -> SelectionFigure:
    bands: dict[str | None, list[int]] = {}
    floors: dict[str | None, int | None] = {}
    seats: Counter[tuple[str, str, str | None]] = Counter()
    for journey in model.journeys:
        a = journey.application
        household = model.membership.get(a.subject)
        band = band_at(model, household, a.applied_at or a.enrolled_at)
        label = band.income_band if band else None
        floors[label] = band.band_floor if band else None
        counts = bands.setdefault(label, [0, 0, 0])
        counts[0] += 1
        counts[1] += a.enrolled_at is not None
        counts[2] += a.waitlisted_at is not None and a.enrolled_at is None
        if a.enrolled_at is not None:
            village = journey.person.village_code if journey.person else None
            seats[(a.programme_code, a.cohort_code, village)] += 1
    band_rows = [
        BandRow(
            income_band=label,
            band_floor=floors[label],
            applied=c[0],
            enrolled=c[1],
            waitlisted=c[2],
        )
        for label, c in sorted(
            bands.items(), key=lambda kv: (floors[kv[0]] is None, floors[kv[0]] or 0)
        )
    ]
    village_rows = []
    for (programme, cohort_code, village), n in sorted(
        seats.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        cohort = model.cohorts.get(cohort_code)
        if cohort is None or (cohort.village_cap is None and cohort.venue_kind != "village"):
            continue  # seats per village matter where a cap or a village venue says so
        village_rows.append(
            VillageSeatsRow(
                programme_code=programme,
                cohort_code=cohort_code,
                village_code=village,
                village_name=model.villages[village].name if village in model.villages else None,
                enrolled=n,
                village_cap=cohort.village_cap,
            )
        )
    return SelectionFigure(bands=band_rows, villages=village_rows)


def outcomes(model: Model) -> OutcomesFigure:
    # Each trained household once per programme, at its member's first completion.
    trained: dict[tuple[str, str], datetime] = {}
    for journey in model.journeys:
        a = journey.application
        household = model.membership.get(a.subject)
        if a.completed_at is None or household is None:
            continue
        key = (a.programme_code, household)
        trained[key] = min(trained.get(key, a.completed_at), a.completed_at)
    groups: dict[
        tuple[str, str | None], list[tuple[HouseholdIncome | None, HouseholdIncome | None]]
    ] = defaultdict(list)
    for (programme, household), completed in trained.items():
        records = model.incomes.get(household, [])
        earlier = [r for r in records if r.recorded_at <= completed]
        later = [r for r in records if r.recorded_at > completed]
        home = model.households.get(household)
        groups[(programme, home.village_code if home else None)].append(
            (earlier[-1] if earlier else None, later[-1] if later else None)
        )
    rows = []
    for (programme, village), pairs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        improved = unchanged = lower = none_after = 0
        for before, after in pairs:
            if after is None:
                none_after += 1
            elif before is None or after.band_floor == before.band_floor:
                unchanged += 1
            elif after.band_floor > before.band_floor:
                improved += 1
            else:
                lower += 1
        place = model.villages.get(village or "")
        rows.append(
            OutcomeRow(
                programme_code=programme,
                village_code=village,
                village_name=place.name if place else None,
                province_code=place.province_code if place else None,
                households=len(pairs),
                improved=improved,
                unchanged=unchanged,
                lower=lower,
                no_record_after=none_after,
                before=dict(Counter(b.income_band for b, _ in pairs if b is not None)),
                after=dict(Counter(a.income_band for _, a in pairs if a is not None)),
            )
        )
    return OutcomesFigure(rows=rows)
