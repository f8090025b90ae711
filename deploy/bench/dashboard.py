"""The dashboard after the throughput part: how long its page and each JSON figure take
at that size, and how fast it rebuilds its read model from the topics."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from deploy.bench.harness import Figures
from deploy.clients.base import ApiError
from deploy.clients.dashboard import DashboardClient, RebuildStatus, differing
from deploy.stack.launcher import Stack

FIGURES = ("funnel", "targets", "time_to_credit", "lenders", "selection", "outcomes")
REPEATS = 5
TARGET = "dashboard"


def caught_up(client: httpx.Client, quiet_s: float = 2.0, timeout: float = 300) -> int:
    """Wait until the dashboard has taken in everything: its event count stops moving."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        events = int(client.get("/stats").json()["events_processed"])
        if events != last:
            last, since = events, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return events
        time.sleep(0.2)
    raise TimeoutError(f"the dashboard was still taking in events after {timeout:.0f} s")


def timed(client: httpx.Client, path: str) -> tuple[float, float]:
    """Milliseconds of the first request (the figures computed: nothing changed since the
    dashboard caught up, so nothing was cached for these filters) and the median of the
    REPEATS after it (cached until the next event). Loopback: nearly all server time."""
    spent = []
    for _ in range(REPEATS + 1):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        spent.append((time.perf_counter() - began) * 1000)
    return spent[0], statistics.median(spent[1:])


def measure(stack: Stack, figures: Figures) -> None:
    if "dashboard" not in stack.urls():
        return
    print("\n(e) dashboard: server time of the page and each figure, and a rebuild")
    print("-" * 72)
    url = stack.urls()["dashboard"]
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        events = caught_up(client)
        print(f"read model              {events:,} events taken in")
        page = httpx.Client(base_url=url, timeout=600, follow_redirects=True)
        with page:
            page.post("/login", data={"key": stack.admin_key}).raise_for_status()
            page_ms, page_cached_ms = timed(page, "/")
        print(
            f"page                    {page_ms:,.0f} ms computing the figures, "
            f"{page_cached_ms:,.0f} ms cached (median of {REPEATS})"
        )
        figures.record(TARGET, events_n=events, page_ms=page_ms, page_cached_ms=page_cached_ms)
        for name in FIGURES:
            # Each figure on filters of its own (a lender no referral names: every journey
            # is still read), so its first request computes the figures again.
            first, cached = timed(client, f"/api/figures/{name}?lender=bench-{name}")
            figures.record(
                TARGET, **{f"figure_{name}_ms": first, f"figure_{name}_cached_ms": cached}
            )
            print(f"  /api/figures/{name:<16}{first:,.0f} ms computed, {cached:,.0f} ms cached")
        whole, _ = timed(client, "/api/figures?programme=ieat-wdbc-2019")
        figures.record(TARGET, figures_one_programme_ms=whole)
        print(f"  /api/figures?programme=ieat-wdbc-2019  {whole:,.0f} ms computed")
    try:
        status, differ = asyncio.run(rebuilt(url, stack.admin_key))
    except ApiError as error:
        figures.problems.append(f"dashboard rebuild: {error}")
        return
    rate = status.events_per_second or 0.0
    print(
        f"rebuild                 {status.state}: {status.read:,} events, "
        f"{rate:,.0f} events/s; figures {'equal' if not differ else 'DIFFER: ' + ', '.join(differ)}"
    )
    figures.record(TARGET, rebuild_events_n=status.read, rebuild_per_s=rate)
    if status.state != "done":
        figures.problems.append(f"dashboard rebuild {status.state}: {status.error}")
    if differ:
        figures.problems.append(f"dashboard figures differ after the rebuild: {differ}")


async def rebuilt(url: str, key: str) -> tuple[RebuildStatus, list[str]]:
    """A rebuild as `skillbridge dashboard rebuild` runs it: its final status, and the
    figures that differ from those before it."""
    async with DashboardClient.connect(url, key, timeout=600) as client:
        before = await client.figures()
        await client.start_rebuild()
        status = await client.follow_rebuild(lambda _: None, timeout=1800, interval=0.5)
        return status, differing(before, await client.figures())
