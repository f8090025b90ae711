"""The page's open event streams, and ending them when the server stops.

An open stream is a response that never finishes, and uvicorn waits for responses before it
stops (up to its graceful-shutdown timeout), so a stopping server must tell the streams.
uvicorn does not tell the app (its lifespan shutdown comes after that wait), so the first
stream chains a handler in front of uvicorn's for SIGINT and SIGTERM that closes them; the
browser's EventSource then reconnects to whichever server comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from fastapi import Request

log = logging.getLogger(__name__)
EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Streams:
    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.open = 0
        self.chained = False

    def close(self) -> None:
        """End every open stream now, and any opened after."""
        self.closing.set()

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1

    async def closed_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.closing.wait(), seconds)
        except TimeoutError:
            return False
        return True


def close_on_signals(streams: Streams, signals: tuple[int, ...] = EXIT_SIGNALS) -> bool:
    """Chain `streams.close` in front of the handlers installed now (uvicorn's, while it
    serves). Only the main thread may set handlers; elsewhere (a test client) nothing is
    chained and False is answered. uvicorn puts back its own predecessors when it stops, so
    the chain goes with it."""
    if threading.current_thread() is not threading.main_thread():
        return False
    loop = asyncio.get_running_loop()
    for signum in signals:
        previous = signal.getsignal(signum)

        def handler(
            number: int,
            frame: FrameType | None,
            previous: Callable[[int, FrameType | None], object] | int | None = previous,
        ) -> None:
            loop.call_soon_threadsafe(streams.close)
            if callable(previous):
                previous(number, frame)
            elif previous == signal.SIG_DFL:  # nobody else listens: do what was set
                signal.signal(number, signal.SIG_DFL)
                signal.raise_signal(number)

        signal.signal(signum, handler)
    return True


def streams_of(request: Request) -> Streams:
    """The app's streams, made on the first stream (the first time, chaining the signals)."""
    streams = getattr(request.app.state, "page_streams", None)
    if not isinstance(streams, Streams):
        streams = request.app.state.page_streams = Streams()
    if not streams.chained:
        streams.chained = True
        try:
            close_on_signals(streams)
        except (ValueError, OSError) as error:  # an embedding that owns its signals
            log.warning("page streams will not end on shutdown signals: %s", error)
    return streams
