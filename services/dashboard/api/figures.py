"""The figures as JSON (the page's data, for anyone with a read key) and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from services.dashboard.api.deps import CachedDep, FiltersDep
from services.dashboard.api.session import SessionOrReadKey
from services.dashboard.figures import Cached
from services.dashboard.schemas import (
    Figures,
    FunnelFigure,
    LendersFigure,
    OutcomesFigure,
    SelectionFigure,
    TargetsFigure,
    TimeToCreditFigure,
)
from shared.auth import Db, ReadKey

router = APIRouter(prefix="/api/figures", tags=["figures"])

Name = Literal["funnel", "targets", "time_to_credit", "lenders", "selection", "outcomes"]


@router.get("")
async def all_figures(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> Figures:
    """Every figure at once, as the page draws them."""
    return await _all(db, filters, cached)


@router.get("/funnel")
async def funnel(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> FunnelFigure:
    """registered → applied → enrolled → completed → certified → referred → acknowledged →
    approved → disbursed, overall and per programme, with each drop-out's reasons."""
    return (await _all(db, filters, cached)).funnel


@router.get("/targets")
async def targets(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> TargetsFigure:
    """Completions against each programme's targets, in total and per place."""
    return (await _all(db, filters, cached)).targets


@router.get("/time_to_credit")
async def time_to_credit(
    _: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep
) -> TimeToCreditFigure:
    """Completion → certificate → referral → decision → disbursement, median and p90 per
    lender and product, with the product's SLA and the referrals that breached it."""
    return (await _all(db, filters, cached)).time_to_credit


@router.get("/lenders")
async def lenders(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> LendersFigure:
    """Referrals, approval rate and amounts per lender and product."""
    return (await _all(db, filters, cached)).lenders


@router.get("/selection")
async def selection(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> SelectionFigure:
    """Seats by household income band, and by village against the village cap."""
    return (await _all(db, filters, cached)).selection


@router.get("/outcomes")
async def outcomes(_: ReadKey, db: Db, filters: FiltersDep, cached: CachedDep) -> OutcomesFigure:
    """Each community's trained households: income band before the training and after."""
    return (await _all(db, filters, cached)).outcomes


@router.get(
    "/{name}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per table row"}},
)
async def as_csv(
    name: Name, _: SessionOrReadKey, db: Db, filters: FiltersDep, cached: CachedDep
) -> Response:
    """The figure's table as CSV (UTF-8 with a byte-order mark, so spreadsheets read Thai);
    the page's download links carry its session cookie instead of a key."""
    figure = getattr(await _all(db, filters, cached), name)
    text = "\ufeff" + to_csv(rows_of(figure))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def _all(db: Db, filters: FiltersDep, cached: Cached) -> Figures:
    async with db.transaction() as session:
        return await cached(session, filters)


def rows_of(figure: BaseModel) -> list[dict[str, object]]:
    """A figure as flat rows: nested lists become one row per inner item."""
    if isinstance(figure, FunnelFigure):
        out: list[dict[str, object]] = []
        for funnel_ in (figure.overall, *figure.programmes):
            programme = funnel_.programme_code or "all"
            for stage in funnel_.stages:
                out.append(
                    {
                        "programme": programme,
                        "kind": "stage",
                        "name": stage.stage,
                        "people": stage.people,
                    }
                )
            for drop in funnel_.drop_outs:
                out.append(
                    {
                        "programme": programme,
                        "kind": drop.kind,
                        "name": drop.reason,
                        "people": drop.people,
                    }
                )
        return out
    if isinstance(figure, TimeToCreditFigure):
        return [
            {
                **row.model_dump(exclude={"steps"}),
                "step": step.step,
                "n": step.n,
                "median_seconds": step.median_seconds,
                "p90_seconds": step.p90_seconds,
            }
            for row in figure.rows
            for step in row.steps
        ]
    if isinstance(figure, SelectionFigure):
        return [{"table": "bands", **b.model_dump()} for b in figure.bands] + [
            {"table": "villages", **v.model_dump()} for v in figure.villages
        ]
    if isinstance(figure, OutcomesFigure):
        return [
            {
                **row.model_dump(exclude={"before", "after"}),
                "before": " ".join(f"{k}:{v}" for k, v in sorted(row.before.items())),
                "after": " ".join(f"{k}:{v}" for k, v in sorted(row.after.items())),
            }
            for row in figure.rows
        ]
    assert isinstance(figure, TargetsFigure | LendersFigure)
    return [row.model_dump() for row in figure.rows]


def to_csv(rows: list[dict[str, object]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
