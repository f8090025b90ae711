"""The page's server-sent events over a real HTTP server (uvicorn on a loopback port): a
change reaches an open stream at once, and the stream ends when the client goes or the
server stops."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

import httpx
import pytest
import uvicorn

from services.dashboard.api.session import COOKIE
from services.dashboard.api.streams import Streams, close_on_signals
from tests.support.dashboard import PageApp, page_app
from tests.support.waiting import eventually


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[PageApp, httpx.AsyncClient]]:
    made = page_app(tmp_path)
    server = uvicorn.Server(
        uvicorn.Config(made.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    await eventually(
        lambda: asyncio.sleep(0, server.started), bool, timeout=10, what="uvicorn started"
    )
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        answer = await client.post("/login", data={"key": made.tokens["read"]})
        assert answer.status_code == 303 and COOKIE in client.cookies
        yield made, client
    server.should_exit = True
    await asyncio.wait_for(serving, 10)


async def lines_until(lines: AsyncIterator[str], wanted: str, seen: list[str]) -> None:
    async for line in lines:
        seen.append(line)
        if line == wanted:
            return
    raise AssertionError(f"the stream ended before {wanted!r}: {seen}")


async def test_a_change_reaches_the_open_stream_within_two_seconds(
    served: tuple[PageApp, httpx.AsyncClient],
) -> None:
    made, client = served
    async with client.stream("GET", "/events/stream?after=0") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        seen: list[str] = []
        await asyncio.wait_for(lines_until(lines, "retry: 1000", seen), 2)
        assert not any(line.startswith("event:") for line in seen)
        made.changes.bump(applied=3)
        await asyncio.wait_for(lines_until(lines, "event: change", seen), 2)
        await asyncio.wait_for(lines_until(lines, "data: 1", seen), 2)
        assert "id: 1" in seen


async def test_a_reconnect_gets_the_change_it_missed(
    served: tuple[PageApp, httpx.AsyncClient],
) -> None:
    made, client = served
    made.changes.bump()
    made.changes.bump()
    # The browser saw version 1 before it lost the stream: it hears of 2 at once.
    headers = {"Last-Event-ID": "1"}
    async with client.stream("GET", "/events/stream?after=0", headers=headers) as stream:
        seen: list[str] = []
        await asyncio.wait_for(lines_until(stream.aiter_lines(), "data: 2", seen), 2)
        assert "data: 1" not in seen


async def test_the_stream_ends_when_the_client_goes(
    served: tuple[PageApp, httpx.AsyncClient],
) -> None:
    made, client = served
    async with client.stream("GET", "/events/stream") as stream:
        await asyncio.wait_for(lines_until(stream.aiter_lines(), "retry: 1000", []), 2)
        streams = made.app.state.page_streams
        assert streams.open == 1
    await eventually(
        lambda: asyncio.sleep(0, streams.open), lambda n: n == 0, timeout=5, what="stream closed"
    )


async def test_the_stream_ends_when_the_streams_close_as_on_an_exit_signal(
    served: tuple[PageApp, httpx.AsyncClient],
) -> None:
    made, client = served
    async with client.stream("GET", "/events/stream") as stream:
        lines = stream.aiter_lines()
        seen: list[str] = []
        await asyncio.wait_for(lines_until(lines, "retry: 1000", seen), 2)
        made.app.state.page_streams.close()
        rest = await asyncio.wait_for(_drain(lines), 2)  # the response ends, cleanly
        assert not any(line.startswith("event:") for line in rest)


async def _drain(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def test_exit_signals_close_the_streams_and_reach_the_handler_before() -> None:
    heard: list[int] = []

    def before(number: int, frame: FrameType | None) -> None:
        heard.append(number)

    original = signal.signal(signal.SIGUSR1, before)
    try:
        streams = Streams()
        assert close_on_signals(streams, (signal.SIGUSR1,))
        signal.raise_signal(signal.SIGUSR1)
        assert await streams.closed_within(2)
        assert heard == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, original)
