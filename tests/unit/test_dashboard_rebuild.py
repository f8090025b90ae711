"""`skillbridge dashboard rebuild` without a service: the client follows the status contract
(httpx's MockTransport answers), and the closing lines and exit code follow the outcome.
The command against the real service runs in tests/browser."""

from __future__ import annotations

import json

import httpx
import pytest
from rich.console import Console

from deploy.cli.dashboard import report
from deploy.clients.base import ApiError, ServiceClient
from deploy.clients.dashboard import DashboardClient, RebuildStatus, differing

FIGURES = {
    "as_of": None,
    "events": 10,
    "funnel": {"overall": {"stages": [{"stage": "registered", "people": 3}]}, "programmes": []},
    "targets": {"rows": []},
    "time_to_credit": {"rows": []},
    "lenders": {"rows": []},
    "selection": {"bands": [], "villages": []},
    "outcomes": {"rows": []},
}


def status(state: str, read: int, total: int, **more: object) -> dict[str, object]:
    return {
        "state": state,
        "read": read,
        "total": total,
        "events_per_second": None,
        "started_at": "2026-11-01T10:00:00+00:00",
        "finished_at": None,
        "error": None,
        **more,
    }


def test_the_client_is_a_service_client() -> None:
    assert DashboardClient.__bases__ == (ServiceClient,)


async def test_follows_the_rebuild_until_done_with_every_status() -> None:
    answers = [
        status("running", 0, 0),
        status("running", 400, 1000),
        status(
            "done",
            1000,
            1000,
            events_per_second=500.0,
            finished_at="2026-11-01T10:00:02+00:00",
        ),
    ]
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(202, json=status("running", 0, 0))
        return httpx.Response(200, json=answers.pop(0))

    seen: list[RebuildStatus] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = DashboardClient(http, "http://dash")
        assert (await client.start_rebuild()).state == "running"
        done = await client.follow_rebuild(seen.append, timeout=10, interval=0.01)
    assert calls == ["POST /admin/rebuild"] + ["GET /admin/rebuild"] * 3
    assert [(s.state, s.read, s.total) for s in seen] == [
        ("running", 0, 0),
        ("running", 400, 1000),
        ("done", 1000, 1000),
    ]
    assert done.seconds == 2.0
    assert done.events_per_second == 500.0


async def test_a_rebuild_running_already_or_past_the_deadline_is_an_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"title": "Conflict", "detail": "running already"})
        return httpx.Response(200, json=status("running", 5, 10))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = DashboardClient(http, "http://dash")
        with pytest.raises(ApiError, match="409"):
            await client.start_rebuild()
        with pytest.raises(ApiError, match="still running"):
            await client.follow_rebuild(lambda _: None, timeout=0.05, interval=0.01)


def test_differing_names_the_figures_that_changed_and_ignores_the_models_own_counts() -> None:
    after = json.loads(json.dumps(FIGURES))
    after["events"] = 11  # what the model took in is not a figure
    after["as_of"] = "2026-11-01T10:00:00+00:00"
    assert differing(FIGURES, after) == []
    after["funnel"]["overall"]["stages"][0]["people"] = 4
    after["lenders"]["rows"].append({"lender_code": "gsb"})
    assert differing(FIGURES, after) == ["funnel", "lenders"]


def closing(state: str, differ: list[str], **more: object) -> tuple[int, str]:
    console = Console(record=True, width=200)
    done = RebuildStatus.of(status(state, 12_000, 12_000, **more))
    code = report(console, done, 3.0, differ)
    return code, console.export_text()


def test_the_closing_lines_and_exit_code() -> None:
    code, text = closing("done", [], finished_at="2026-11-01T10:00:04+00:00")
    assert code == 0
    assert "12,000 events in 4.0 s (3,000 events/s)" in text
    assert "the same as before" in text

    code, text = closing("done", ["funnel", "outcomes"], events_per_second=2500.0)
    assert code == 1
    assert "(2,500 events/s)" in text  # the service's own rate; the local seconds (3.0)
    assert "in 3.0 s" in text
    assert "differ" in text and "funnel, outcomes" in text

    code, text = closing("failed", [], error="broker unreachable")
    assert code == 1
    assert "rebuild failed" in text and "broker unreachable" in text
