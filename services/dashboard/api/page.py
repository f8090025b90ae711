"""The page: server-rendered, Thai and English, live; signed in with a read key.

- `GET /`: the whole page (filters are the GET parameters of the JSON API's figures);
  without a session, a redirect to `/login`.
- `GET /fragment`: the figures section alone, for the page's script to swap in on a change.
- `GET /events/stream`: server-sent events, one `change` each time the read model moves.
- `GET /static/{name}`: the page's CSS and script and the Plotly bundle.

Reads `app.state.figures` (`compute(session, filters) -> Figures`), `app.state.changes`
(live.Changes), `app.state.settings` (DashboardSettings), `app.state.db` and
`app.state.api_keys`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dashboard import i18n
from services.dashboard.api import session as signing_in
from services.dashboard.api.assets import ASSETS
from services.dashboard.api.render import page_lang, render
from services.dashboard.api.streams import Streams, streams_of
from services.dashboard.live import Changes
from services.dashboard.schemas import STAGES, STEPS, Figures, Filters
from shared.auth import Operator
from shared.db import Database
from shared.errors import NotFound
from shared.http import app_state

ComputeFigures = Callable[[AsyncSession, Filters], Awaitable[Figures]]
FILTER_NAMES = tuple(Filters.model_fields)
# The figures' names, as in `Figures` and the JSON/CSV routes (`/api/figures/<name>.csv`).
FIGURE_NAMES = ("funnel", "targets", "time_to_credit", "lenders", "selection", "outcomes")
# A comment this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
# Then the stream ends and the browser's EventSource reconnects with Last-Event-ID, so no
# change is missed; a bound on how long one response can hold a worker.
MAX_STREAM_SECONDS = 300.0
# How often a waiting stream looks whether its client has gone.
POLL_SECONDS = 1.0

router = APIRouter(tags=["page"], include_in_schema=False)
router.include_router(signing_in.router)
Session = Annotated[Operator, Depends(signing_in.require_session)]


def figures_of(request: Request) -> ComputeFigures:
    found = getattr(request.app.state, "figures", None)
    if not callable(found):
        raise RuntimeError("no figures function on app.state.figures: see __main__.build")
    return cast(ComputeFigures, found)


def filters_of(request: Request) -> Filters:
    """The figures' filters from the query; an empty field (the form's "All") is no filter."""
    given = {
        name: value
        for name in FILTER_NAMES
        if (value := request.query_params.get(name, "").strip())
    }
    try:
        return Filters.model_validate(given)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def filter_query(filters: Filters) -> str:
    return urlencode(filters.model_dump(exclude_none=True))


async def _figures_context(request: Request, filters: Filters) -> dict[str, Any]:
    # The version is read before the figures: if an event lands meanwhile, the page is at
    # most one change behind its marker, and the stream's next `change` catches it up.
    version = app_state(request, "changes", Changes).version
    db = app_state(request, "db", Database)
    async with db.transaction() as session:
        figures = await figures_of(request)(session, filters)
    lang = page_lang(request)
    formats = i18n.Formats(lang)
    return {
        "figures": figures,
        "filters": filters,
        "query": filter_query(filters),
        "version": version,
        "figure_names": FIGURE_NAMES,
        "stages": STAGES,
        "steps": STEPS,
        "funnels": _funnel_columns(figures, lang),
        "outcome_bands": sorted(
            {band for row in figures.outcomes.rows for band in (*row.before, *row.after)}
        ),
        "chart_data": {
            "figures": figures.model_dump(mode="json"),
            "labels": i18n.chart_labels(lang),
            "separators": formats.separators(),
        },
    }


def _funnel_columns(figures: Figures, lang: i18n.Lang) -> list[dict[str, Any]]:
    """Overall first, then each programme: its code for data attributes, its label, and
    people per stage (a stage the figure leaves out has nobody)."""
    columns = []
    for funnel in (figures.funnel.overall, *figures.funnel.programmes):
        code = funnel.programme_code
        columns.append(
            {
                "code": code or "all",
                "label": (funnel.programme_name or code) if code else i18n.text(lang, "overall"),
                "people": {count.stage: count.people for count in funnel.stages},
                "drop_outs": funnel.drop_outs,
            }
        )
    return columns


def _choices(figures: Figures, filters: Filters) -> dict[str, Any]:
    """What the filter form offers (datalists and years): what the figures mention."""
    programmes = {row.programme_code: row.programme_name for row in figures.targets.rows}
    for funnel in figures.funnel.programmes:
        if funnel.programme_code:
            programmes[funnel.programme_code] = funnel.programme_name or funnel.programme_code
    lenders = {row.lender_code: row.lender_name for row in figures.lenders.rows}
    lenders.update({row.lender_code: row.lender_name for row in figures.time_to_credit.rows})
    provinces = {row.province_code for row in figures.outcomes.rows if row.province_code}
    this_year = datetime.now(UTC).year
    years = {row.year for row in figures.targets.rows} | set(range(this_year - 3, this_year + 2))
    if filters.year is not None:
        years.add(filters.year)
    return {
        "programmes": sorted(programmes.items()),
        "lenders": sorted(lenders.items()),
        "provinces": sorted(provinces),
        "years": sorted(years, reverse=True),
    }


def _to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> Response:
    operator = await signing_in.signed_in(request)
    if operator is None:
        return _to_login(request)
    filters = filters_of(request)
    context = await _figures_context(request, filters)
    return render(
        request,
        "page.html",
        {**context, **_choices(context["figures"], filters), "operator": operator},
    )


@router.get("/fragment", response_class=HTMLResponse)
async def fragment(request: Request, _: Session) -> Response:
    context = await _figures_context(request, filters_of(request))
    return render(request, "_figures.html", context)


def _after(request: Request, changes: Changes) -> int:
    """The version the browser has: EventSource's Last-Event-ID on a reconnect, else the
    page's `?after=`, else now."""
    for given in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if given and given.strip().isdigit():
            return int(given)
    return changes.version


async def _first(changes: Changes, after: int, closing: asyncio.Event, timeout: float) -> int:
    """The version once it passes `after`, the stream closes, or `timeout` runs out."""
    waiter = asyncio.ensure_future(changes.wait(after, timeout))
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        closed.cancel()
    return changes.version


async def _events(
    request: Request, changes: Changes, streams: Streams, after: int, interval: float
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    ends = loop.time() + MAX_STREAM_SECONDS
    quiet_since = loop.time()
    with streams.opened():
        # `retry`: reconnect after a second if the stream drops (or ends at MAX_STREAM_SECONDS).
        yield f"retry: 1000\n: open at version {changes.version}\n\n"
        while not streams.closing.is_set() and loop.time() < ends:
            if await request.is_disconnected():
                return
            version = await _first(changes, after, streams.closing, POLL_SECONDS)
            if streams.closing.is_set():
                return
            if version > after:
                after = version
                yield f"id: {version}\nevent: change\ndata: {version}\n\n"
                quiet_since = loop.time()
                # At most one change per interval: a burst of batches costs one refetch.
                await streams.closed_within(interval)
            elif loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()


@router.get("/events/stream")
async def event_stream(request: Request, _: Session) -> Response:
    changes = app_state(request, "changes", Changes)
    settings = signing_in.settings_of(request)
    after = _after(request, changes)
    return StreamingResponse(
        _events(request, changes, streams_of(request), after, settings.live_interval_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/static/{name}")
async def static(request: Request, name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound(f"no static file {name!r}")
    return asset.respond(request)
