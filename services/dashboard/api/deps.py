"""What the dashboard's routes need besides shared.auth's keys and database: the live
changes and the rebuild, which `__main__` puts on `app.state`; and the figures' filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.dashboard.figures import Cached
from services.dashboard.live import Changes
from services.dashboard.rebuild import Rebuild
from services.dashboard.schemas import Filters
from shared.http import app_state


def changes_of(request: Request) -> Changes:
    return app_state(request, "changes", Changes)


def cached_of(request: Request) -> Cached:
    return app_state(request, "figures", Cached)


def rebuild_of(request: Request) -> Rebuild:
    return app_state(request, "rebuild", Rebuild)


def filters_of(
    programme: Annotated[str | None, Query(max_length=64)] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200, description="Gregorian year")] = None,
    province: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    occupation: Annotated[str | None, Query(max_length=64)] = None,
    lender: Annotated[str | None, Query(max_length=32)] = None,
) -> Filters:
    """The filters every figure takes, as query parameters (blank: all)."""
    return Filters(
        programme=programme or None,
        year=year,
        province=province or None,
        occupation=occupation or None,
        lender=lender or None,
    )


CachedDep = Annotated[Cached, Depends(cached_of)]
ChangesDep = Annotated[Changes, Depends(changes_of)]
RebuildDep = Annotated[Rebuild, Depends(rebuild_of)]
FiltersDep = Annotated[Filters, Depends(filters_of)]
