"""Drives a scenario through the services' HTTP APIs, as programme staff would.

Each trainee: registered (with or without consent; all of them in one CSV import) -> applied
to the cohort of their estate and occupation -> selected -> attends all five days or only
two -> those who attended all are assessed on the last day in a TPQI session per level (a
pass passes every unit, a fail fails one required unit) -> the cohort closes: completed or
not.
Certification awards a pass once TrainingCompleted arrives; referrals follow from events.

A scenario with villages (CDD Sammachiv) registers them first and its community sages as
trainers named on their village's cohort; its cohorts cap seats per village, so selection
seats the lowest-income households and waitlists the rest, who never attend. Incomes that
rose after training are recorded separately (`record_incomes_after`), once funding settled.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from deploy.clients.base import ApiError, Json, auth_headers, retry_deadline
from deploy.clients.certification import Candidate, CertificationClient, standard_code, unit_results
from deploy.clients.funding import FundingClient
from deploy.clients.registry import RegistryClient
from deploy.clients.training import TrainingClient, attendance
from deploy.scenarios.pilot import Sage, Scenario, Trainee

T = TypeVar("T")
Progress = Callable[[str], None]

LOAN_REFERRAL = "loan-referral"  # the consent purpose a trainee gives to partner lenders
SeedError = ApiError  # the name deploy/bench/journey.py catches; the training client raises it too

# Every occupation's course: the programme's five-day format (DOMAIN.md): days 1-3
# knowledge transfer, day 4 a study visit, day 5 practice at home.
COURSE_DAYS = 5
COURSE_HOURS = 30
DAY_PLAN = ((1, 3, "knowledge-transfer"), (4, 4, "study-visit"), (5, 5, "home-practice"))
MIN_ATTENDANCE_DAYS = 4
DAYS_IF_NOT_COMPLETING = 2  # below the minimum: closure records TrainingNotCompleted


async def _gather_limited(
    items: Iterable[T],
    work: Callable[[T], Awaitable[Any]],
    limit: int,
    label: str,
    progress: Progress,
    every: int = 500,
) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)
    todo = list(items)
    done = 0
    started = time.monotonic()

    async def one(item: T) -> Any:
        nonlocal done
        async with semaphore:
            result = await work(item)
        done += 1
        if done % every == 0 or done == len(todo):
            rate = done / max(time.monotonic() - started, 1e-6)
            progress(f"  {label}: {done}/{len(todo)} ({rate:.0f}/s)")
        return result

    return list(await asyncio.gather(*(one(item) for item in todo)))


async def configure_lenders(funding: FundingClient, scenario: Scenario) -> None:
    """Lenders and products come from the funding service's seed catalogue: check that every
    product the scenario expects referrals for is live there (else the expectation is moot)."""
    deadline = time.monotonic() + 60
    while True:  # the service may still be starting
        try:
            live = await funding.live_products()
            break
        except (httpx.TransportError, ApiError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    missing = sorted({p.product_code for p in scenario.products} - set(live))
    if missing:
        raise ApiError(f"products not live in the funding service: {missing}")


def cohort_of(scenario: Scenario, trainee: Trainee) -> str:
    return f"{scenario.programme_code}-{trainee.estate_code}-{trainee.occupation}"[:64]


def course_of(scenario: Scenario, occupation: str) -> str:
    return f"{scenario.programme_code}-{occupation}"[:64]


def cohort_dates(scenario: Scenario, today: datetime.date | None = None) -> list[datetime.date]:
    """The sources give no dates: a week from 3 June of the programme's year stands in. The
    seeder records attendance and closes at once, which training allows only once the days
    have come, so a June still ahead gives way to a week that ended a week ago."""
    today = today or datetime.date.today()
    first = min(
        datetime.date(scenario.year, 6, 3),
        today - datetime.timedelta(days=COURSE_DAYS + 7),
    )
    return [first + datetime.timedelta(days=i) for i in range(COURSE_DAYS)]


async def register_owner(registry: RegistryClient, scenario: Scenario) -> None:
    """The programme's owner in the registry (training learns it from the registry's event).
    200: registered already with the same data; 409: with other data, still the owner."""
    owner = scenario.owner
    body = {"code": owner.code, "kind": owner.kind, "name_en": owner.name_en}
    await registry.register_organisation({**body, "name_th": owner.name_th})


async def register_villages(registry: RegistryClient, scenario: Scenario, deadline: float) -> None:
    """The scenario's villages (VillageRegistered), before the people whose address names one
    (200 for a village registered already as given: a rerun)."""
    for village in scenario.villages:
        body = {
            "code": village.code,
            "name_en": village.name_en,
            "name_th": village.name_th,
            "province_code": village.province_code,
            "district": village.district,
        }
        await registry.register_village(body, deadline=deadline)


async def register_sages(
    registry: RegistryClient, sages: Iterable[Sage], deadline: float
) -> dict[str, list[str]]:
    """Every sage on the trainer register (TrainerRegistered); village code -> trainer ids,
    the lead first."""
    ordered = sorted(sages, key=lambda s: s.role != "lead")
    registered = await asyncio.gather(
        *(
            registry.register_trainer(
                {
                    "display_name": sage.display_name,
                    "occupations": [sage.occupation],
                    "village_code": sage.village_code,
                    "role": sage.role,
                },
                deadline=deadline,
            )
            for sage in ordered
        )
    )
    by_village: dict[str, list[str]] = defaultdict(list)
    for sage, trainer in zip(ordered, registered, strict=True):
        by_village[sage.village_code].append(str(trainer["trainer_id"]))
    return dict(by_village)


async def households_replicated(
    training: TrainingClient, before: Mapping[str, int], added: int, timeout: float
) -> None:
    """Wait until training's replica holds `added` more households and memberships than
    `before`: selection ranks by the household's income band, read from that replica."""
    deadline = time.monotonic() + timeout
    while True:
        now = await training.replica()
        if all(now[k] >= before[k] + added for k in ("households", "memberships")):
            return
        if time.monotonic() > deadline:
            raise SeedError(
                f"training's replica did not catch up with {added} new households in "
                f"{timeout:.0f}s (before {dict(before)}, now {now})"
            )
        await asyncio.sleep(0.1)


async def set_up_programme(training: TrainingClient, scenario: Scenario, retry_for: float) -> None:
    """The scenario's programme and one course per occupation."""
    await training.ensure_programme(
        code=scenario.programme_code,
        name=scenario.programme_name,
        owner_code=scenario.owner.code,
        year=scenario.year,
        occupations=list(scenario.occupations),
        target_total=scenario.target,
        targets=[
            {"place_kind": t.place_kind, "place_code": t.place_code, "target": t.target}
            for t in scenario.targets
        ],
        retry_for=retry_for,
    )
    for occupation, title in scenario.occupations.items():
        await training.ensure_course(
            code=course_of(scenario, occupation),
            programme_code=scenario.programme_code,
            occupation=occupation,
            title=title,
            days=COURSE_DAYS,
            hours=COURSE_HOURS,
            day_plan=DAY_PLAN,
            min_attendance_days=MIN_ATTENDANCE_DAYS,
            practical_required=False,
            retry_for=retry_for,
        )


# The import's columns for a trainee: the person, a household of their own when they have an
# income on record, and their consent.
IMPORT_COLUMNS = (
    "national_id",
    "first_name_th",
    "last_name_th",
    "birth_date",
    "province_code",
    "village_code",
    "household_code",
    "monthly_income",
    "consents",
)
IMPORT_POLL_SECONDS = 0.2


def registration_csv(scenario: Scenario, run: str) -> tuple[bytes, list[int]]:
    """The trainees as one registry import file, and the line each trainee is on.

    A trainee with an income gets a household of their own, `<programme>-<run>-<n>`: fresh
    codes each run, so a rerun never puts a newcomer into someone else's household (a person
    registered by an earlier run is reported with their id and keeps their household)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(IMPORT_COLUMNS)
    lines: list[int] = []
    line = 2
    for n, trainee in enumerate(scenario.trainees, 1):
        has_income = trainee.monthly_income is not None
        record = [
            trainee.national_id,
            trainee.first_name,
            trainee.last_name,
            trainee.birth_date.isoformat(),
            trainee.province_code,
            trainee.village_code or "",
            f"{scenario.programme_code}-{run}-{n}"[:64] if has_income else "",
            str(trainee.monthly_income) if has_income else "",
            LOAN_REFERRAL if trainee.consents_to_lenders else "",
        ]
        writer.writerow(record)
        lines.append(line)
        line += 1 + sum(cell.count("\n") for cell in record)  # a quoted line break spans lines
    return buffer.getvalue().encode(), lines


async def follow_import(
    registry: RegistryClient, import_id: str, started: float, progress: Progress
) -> Json:
    """Poll the job until it ends, reporting rows as today's per-person registration did."""
    shown = 0
    while True:
        job = await registry.job(import_id)
        done, total = int(job["rows_done"]), int(job["rows_total"] or 0)
        if done != shown:
            rate = done / max(time.monotonic() - started, 1e-6)
            progress(f"  registered: {done}/{total} ({rate:.0f}/s)")
            shown = done
        if job["status"] == "failed":
            raise SeedError(f"registry import {import_id} failed: {job.get('error')}")
        if job["status"] == "done":
            return job
        await asyncio.sleep(IMPORT_POLL_SECONDS)


async def register_all(
    registry: RegistryClient, scenario: Scenario, deadline: float, progress: Progress
) -> tuple[list[str], int]:
    """Every trainee through one CSV import (POST /imports); their person ids, in order, and
    how many of them the import created (the rest were registered by an earlier run).

    The person ids come back by line (GET /imports/{id}/people). A rejected line that names
    an existing person is a rerun (registered before, perhaps in another household): that
    person is the trainee, as a 409 from POST /people was. Any other rejection is an error."""
    run = secrets.token_hex(3)
    content, lines = registration_csv(scenario, run)
    started = time.monotonic()
    name = f"{scenario.programme_code}-{run}.csv"
    job = await registry.upload_csv(name, content, deadline=deadline)
    done = await follow_import(registry, job["import_id"], started, progress)
    by_line = await registry.row_people(job["import_id"])
    missing = [line for line in lines if line not in by_line]
    if missing:
        unexplained: list[str] = []
        for entry in await registry.rejections(job["import_id"]):
            if entry["existing_person_id"]:
                by_line.setdefault(int(entry["line"]), str(entry["existing_person_id"]))
            else:
                unexplained.append(f"line {entry['line']} {entry['field']}: {entry['reason']}")
        if unexplained:
            raise SeedError(
                f"registry import {job['import_id']} rejected {len(unexplained)} row(s): "
                + "; ".join(unexplained[:5])
            )
    progress(
        f"  registered: {len(lines)} in {time.monotonic() - started:.1f} s "
        f"(one import, {job['import_id']})"
    )
    return [by_line[line] for line in lines], int(done["created"])


@dataclass
class Cohorts:
    """Trains and assesses the scenario's cohorts once its people are registered."""

    training: TrainingClient
    certification: CertificationClient
    scenario: Scenario
    by_id: dict[str, str]  # national ID -> person_id
    retry_for: float
    close: bool = True  # False: left open for the caller to close (the latency bench)
    trainers: Mapping[str, Sequence[str]] = field(default_factory=dict)  # village -> ids
    dates: list[datetime.date] = field(init=False)
    standards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dates = cohort_dates(self.scenario)

    async def assess(self, cohort_code: str, trainees: list[Trainee], day: datetime.date) -> None:
        """A TPQI session per level in the cohort: candidates registered with the name on
        their ID card, then results per unit (a pass passes every unit)."""
        by_level: dict[int, list[Trainee]] = defaultdict(list)
        for trainee in trainees:
            by_level[trainee.level].append(trainee)
        for level, group in sorted(by_level.items()):
            await self._assess_level(cohort_code, level, group, day)

    async def _assess_level(
        self, cohort_code: str, level: int, group: list[Trainee], day: datetime.date
    ) -> None:
        certification, retry_for, by_id = self.certification, self.retry_for, self.by_id
        std_code = standard_code(group[0].occupation, level)
        if std_code not in self.standards:
            self.standards[std_code] = await certification.standard(std_code, retry_for=retry_for)
        session_code = f"{cohort_code[:60]}-l{level}"
        await certification.ensure_session(
            code=session_code, standard_code=std_code, held_on=day, retry_for=retry_for
        )
        candidates = [
            Candidate(by_id[t.national_id], f"{t.first_name} {t.last_name}", "training")
            for t in group
        ]
        await certification.register_candidates(session_code, candidates, retry_for=retry_for)
        results = {
            by_id[t.national_id]: unit_results(self.standards[std_code], t.passes) for t in group
        }
        await certification.record_results(session_code, results, retry_for=retry_for)

    async def train(self, code: str, trainees: list[Trainee]) -> None:
        """The cohort set up, applied, selected and attended; assessed; then closed."""
        scenario, training, by_id = self.scenario, self.training, self.by_id
        first = trainees[0]  # a cohort's trainees share estate and occupation
        places = {estate.code: estate.name for estate in scenario.estates}
        places |= {village.code: village.name_en for village in scenario.villages}
        enrolled = [t for t in trainees if t.enrolled]
        cohort = await training.ensure_cohort(
            code=code,
            course_code=course_of(scenario, first.occupation),
            venue={
                "kind": scenario.venue_kind,
                "code": first.estate_code,
                "name": places.get(first.estate_code, first.estate_code),
            },
            dates=self.dates,
            # The pilot trained all it registered: a seat each. A capped programme has as
            # many seats as it enrols and waitlists the other applicants.
            capacity=len(enrolled),
            village_cap=scenario.village_cap,
            trainer_ids=self.trainers.get(first.estate_code, ()),
            retry_for=self.retry_for,
        )
        # Closed already (a rerun): its records are final; assessments are idempotent.
        if cohort["status"] != "closed":
            ids = [by_id[t.national_id] for t in trainees]
            await training.apply_all(code, ids, retry_for=self.retry_for)
            await training.select(code, retry_for=self.retry_for)
            days = {
                by_id[t.national_id]: COURSE_DAYS if t.completes else DAYS_IF_NOT_COMPLETING
                for t in enrolled
            }
            records = attendance(self.dates, days)
            await training.record_attendance(code, records, retry_for=self.retry_for)

        # Assessed on the last day, before the cohort closes: certification holds a pass
        # until TrainingCompleted arrives, so the award then follows from events alone.
        await self.assess(code, [t for t in trainees if t.completes], self.dates[-1])
        if self.close and cohort["status"] != "closed":
            await training.close(code, retry_for=self.retry_for)


async def run_journeys(
    urls: Mapping[str, str],
    scenario: Scenario,
    *,
    api_key: str,
    concurrency: int = 16,
    replication_timeout: float = 120,
    progress: Progress = print,
    close: bool = True,
) -> dict[str, str]:
    """Seed the scenario with an operator's key; returns national ID -> person_id. With
    `close=False` every cohort is ready to close (assessed) but left open."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    headers = auth_headers(api_key)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=headers) as client:
        registry = RegistryClient(client, urls["registry"])
        training = TrainingClient(client, urls["training"])
        await configure_lenders(FundingClient(client, urls["funding"]), scenario)
        deadline = time.monotonic() + replication_timeout
        await register_villages(registry, scenario, deadline)
        # Seats go lowest income first where they are capped: every new household's band
        # must be in training's replica before selection ranks (a created person, a new
        # household), so its size is taken before the import.
        ranks_by_income = scenario.village_cap is not None and all(
            t.monthly_income is not None for t in scenario.trainees
        )
        replica_before = await training.replica() if ranks_by_income else {}
        person_ids, created = await register_all(registry, scenario, deadline, progress)
        by_id = {t.national_id: pid for t, pid in zip(scenario.trainees, person_ids, strict=True)}

        await register_owner(registry, scenario)
        trainers = await register_sages(registry, scenario.sages, deadline)
        if scenario.sages:
            progress(f"  trainers: {sum(map(len, trainers.values()))} community sages registered")
        await set_up_programme(training, scenario, replication_timeout)
        if ranks_by_income:
            await households_replicated(training, replica_before, created, replication_timeout)
        cohorts: dict[str, list[Trainee]] = defaultdict(list)
        for trainee in scenario.trainees:
            cohorts[cohort_of(scenario, trainee)].append(trainee)
        certification = CertificationClient(client, urls["certification"])
        trainer = Cohorts(
            training, certification, scenario, by_id, replication_timeout, close, trainers
        )
        await _gather_limited(
            cohorts,
            lambda code: trainer.train(code, cohorts[code]),
            concurrency,
            "cohorts closed",
            progress,
            every=max(len(cohorts) // 5, 1),
        )
        return by_id


async def record_incomes_after(
    urls: Mapping[str, str],
    scenario: Scenario,
    by_id: Mapping[str, str],
    *,
    api_key: str,
    concurrency: int = 8,
    retry_for: float = 60,
) -> int:
    """The households whose income rose after training record it (HouseholdIncomeRecorded);
    how many did. Run once funding has settled: a new income re-evaluates the person against
    the products, and the referrals expected are those of the incomes before."""
    risen = [t for t in scenario.trainees if t.income_after is not None]
    semaphore = asyncio.Semaphore(concurrency)
    async with RegistryClient.connect(urls["registry"], api_key, timeout=30) as registry:

        async def one(trainee: Trainee) -> None:
            assert trainee.income_after is not None
            async with semaphore:
                person = await registry.person(by_id[trainee.national_id])
                household = await registry.record_income(
                    str(person["household_id"]),
                    trainee.income_after,
                    deadline=retry_deadline(retry_for),
                )
            if household["monthly_income"] != trainee.income_after:
                raise SeedError(f"household {household['household_id']} kept another income")

        await asyncio.gather(*(one(t) for t in risen))
    return len(risen)
