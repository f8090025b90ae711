"""Dashboard figures built by hand, and the page's app without a broker: its routes, a
stub for `figures.compute`, a live `Changes`, and a SQLite database for keys and sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard.api import page
from services.dashboard.live import Changes
from services.dashboard.schemas import (
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
from services.dashboard.sessions import PageSession
from services.dashboard.settings import DashboardSettings
from shared.auth import ApiKeyColumns, ApiKeys, Role
from shared.db import Database
from shared.http import install_error_handlers

# When the sample's newest event happened: 1 March 2025, 17:30 in Bangkok (B.E. 2568).
AS_OF = datetime(2025, 3, 1, 10, 30, tzinfo=UTC)


class _KeysBase(SQLModel, registry=registry()): ...


class TestApiKey(_KeysBase, ApiKeyColumns, table=True):
    """The service's `api_key` table, standing alone (the dashboard's tables.py is the lead's)."""

    __test__ = False


def funnel(code: str | None, name: str | None, people: dict[str, int]) -> Funnel:
    return Funnel(
        programme_code=code,
        programme_name=name,
        stages=[StageCount(stage=stage, people=n) for stage, n in people.items()],
        drop_outs=[DropOut(kind="failed-units", reason="PHA-001", people=3)] if code else [],
    )


def sample_figures(enrolled: int = 1223, events: int = 4567) -> Figures:
    """Two programmes; IEAT's trained 1,223 of a target of 1,000 (122.3%)."""
    ieat = {"registered": 1500, "applied": 1400, "enrolled": enrolled, "completed": 1223}
    cdd = {"registered": 260, "applied": 260, "enrolled": 260, "completed": 250}
    overall = {stage: ieat.get(stage, 0) + cdd.get(stage, 0) for stage in ieat}
    return Figures(
        as_of=AS_OF,
        events=events,
        funnel=FunnelFigure(
            overall=funnel(None, None, overall),
            programmes=[
                funnel("IEAT-2025", "IEAT community skills", ieat),
                funnel("CDD-SAMMACHIV", "CDD Sammachiv", cdd),
            ],
        ),
        targets=TargetsFigure(
            rows=[
                TargetRow(
                    programme_code="IEAT-2025",
                    programme_name="IEAT community skills",
                    year=2025,
                    place_kind="programme",
                    place_code=None,
                    place_name=None,
                    target=1000,
                    achieved=1223,
                    percent=122.3,
                ),
                TargetRow(
                    programme_code="IEAT-2025",
                    programme_name="IEAT community skills",
                    year=2025,
                    place_kind="estate",
                    place_code="MAP-TA-PHUT",
                    place_name="Map Ta Phut",
                    target=400,
                    achieved=380,
                    percent=95.0,
                ),
            ]
        ),
        time_to_credit=TimeToCreditFigure(
            rows=[
                TimeToCreditRow(
                    lender_code="BAAC",
                    lender_name="BAAC",
                    product_code="MICRO-1",
                    product_name="Micro loan",
                    sla_days=14,
                    referrals=40,
                    breached=2,
                    steps=[
                        StepTime(
                            step="completion_to_certificate",
                            n=40,
                            median_seconds=40,
                            p90_seconds=90 * 60,
                        ),
                        StepTime(
                            step="referral_to_decision",
                            n=30,
                            median_seconds=2.5 * 86400,
                            p90_seconds=None,
                        ),
                    ],
                )
            ]
        ),
        lenders=LendersFigure(
            rows=[
                LenderRow(
                    lender_code="BAAC",
                    lender_name="BAAC",
                    product_code="MICRO-1",
                    product_name="Micro loan",
                    referrals=40,
                    held=5,
                    acknowledged=35,
                    approved=20,
                    declined=5,
                    approval_rate=80.0,
                    disbursed=18,
                    amount_approved=1_234_000,
                    amount_disbursed=1_100_000,
                )
            ]
        ),
        selection=SelectionFigure(
            bands=[
                BandRow(income_band="A", band_floor=0, applied=300, enrolled=260, waitlisted=40),
                BandRow(income_band=None, band_floor=None, applied=5, enrolled=0, waitlisted=5),
            ],
            villages=[
                VillageSeatsRow(
                    programme_code="CDD-SAMMACHIV",
                    cohort_code="SS-01",
                    village_code="340101",
                    village_name="Ban Nong Khon",
                    enrolled=20,
                    village_cap=20,
                )
            ],
        ),
        outcomes=OutcomesFigure(
            rows=[
                OutcomeRow(
                    programme_code="CDD-SAMMACHIV",
                    village_code="340101",
                    village_name="Ban Nong Khon",
                    province_code="34",
                    households=20,
                    improved=6,
                    unchanged=12,
                    lower=1,
                    no_record_after=1,
                    before={"A": 20},
                    after={"A": 13, "B": 6},
                )
            ]
        ),
    )


@dataclass
class StubFigures:
    """`figures.compute` as the page calls it: answers `figures` and records the filters."""

    figures: Figures = field(default_factory=sample_figures)
    calls: list[Filters] = field(default_factory=list)

    async def __call__(self, session: AsyncSession, filters: Filters) -> Figures:
        self.calls.append(filters)
        return self.figures


@dataclass
class PageApp:
    app: FastAPI
    figures: StubFigures
    changes: Changes
    settings: DashboardSettings
    tokens: dict[str, str] = field(default_factory=dict)  # role name -> key


def page_app(folder: Path, **settings: object) -> PageApp:
    """The page's routes on an app of their own. Its lifespan makes the database, in the
    loop that serves (a test client's or uvicorn's), with a read and an admin key."""
    url = f"sqlite+aiosqlite:///{folder / 'dashboard.db'}"
    config = DashboardSettings(database_url=url, **settings)  # type: ignore[arg-type]
    made = PageApp(
        app=FastAPI(), figures=StubFigures(), changes=Changes(), settings=config, tokens={}
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(_KeysBase.metadata.create_all)
            await conn.run_sync(lambda sync: PageSession.__table__.create(sync, checkfirst=True))  # type: ignore[attr-defined]
        keys = ApiKeys(db, TestApiKey)
        for role in (Role.read, Role.admin):
            if role.name not in made.tokens:
                _, made.tokens[role.name] = await keys.create(f"{role.name}er", role)
        app.state.db, app.state.api_keys = db, keys
        try:
            yield
        finally:
            await db.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(page.router)
    app.state.settings = config
    app.state.figures = made.figures
    app.state.changes = made.changes
    made.app = app
    return made
