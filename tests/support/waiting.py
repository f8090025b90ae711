"""Waiting with a deadline: poll until a condition holds, or fail with what was last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 60,
    what: str = "condition",
) -> T:
    """Poll `probe` until `done(result)`; fail with the last result after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(0.1)


async def returning(value: T) -> T:
    """An awaitable of a value at hand, for `eventually` probes that need none."""
    return value
