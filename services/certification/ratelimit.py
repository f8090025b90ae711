"""Per-client rate limit of the public verification routes (the `limits` library, moving
window, in memory: each replica counts its own clients)."""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from shared.errors import TooManyRequests
from shared.http import guard


class RateLimit:
    """A FastAPI dependency: 429 with Retry-After once a client is over `spec`."""

    def __init__(self, spec: str, *, trust_forwarded_for: bool = False) -> None:
        self.item: RateLimitItem = parse(spec)
        self.spec = spec
        self.trust_forwarded_for = trust_forwarded_for
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        guard(self, {429})  # documented as 429 on every route that uses it

    def client(self, request: Request) -> str:
        forwarded = request.headers.get("x-forwarded-for")
        if self.trust_forwarded_for and forwarded:
            return forwarded.split(",")[0].strip()
        return request.client.host if request.client else "unknown"

    async def __call__(self, request: Request) -> None:
        client = self.client(request)
        if self._limiter.hit(self.item, "verify", client):
            return
        stats = self._limiter.get_window_stats(self.item, "verify", client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"more than {self.spec} verification requests from {client}; retry later",
            retry_after=retry_after,
        )
