"""What the open page listens to: a number that grows each time the consumer commits a
batch, and a way to wait for it to grow (server-sent events, api/page.py)."""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Event()

    def bump(self, applied: int = 1) -> None:
        """Called after a batch committed (`applied` events taken in)."""
        if applied <= 0:
            return
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, after: int, timeout: float) -> int:
        """The version once it is past `after`, or as it is when `timeout` runs out."""
        if self.version > after:
            return self.version
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        return self.version
