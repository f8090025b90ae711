"""Handlers that work a whole consumer batch with a fixed number of queries.

A batch handler takes every event of its type in a run of the batch (a list of
`Delivered`), reads what they need in one query per table, takes the people's locks in
one statement (`shared.db.lock_aggregates`) and lets the flush write each table's rows in
one bulk statement. `@batched` makes it callable for one event too, as
`handler(session, event)`, so the HANDLERS table, the handler tests and rare callers keep
the one-event form; the consumer finds the batch form with `batch_form`.

Order: the consumer hands a batch handler the longest runs of consecutive events of its
type (a consent before an award in the same batch is applied first, as one at a time
would); `rounds` splits a run so that one person's events are worked in offset order, one
per round (a round costs the fixed number of queries; most batches are one round).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.outbox import staged_in_bulk
from shared.telemetry import consumer_span

E = TypeVar("E")
K = TypeVar("K", bound=Hashable)
BatchForm = Callable[..., Awaitable[object]]  # (session, list[Delivered], **bound) -> ignored


@dataclass
class Delivered(Generic[E]):
    """One event of a batch, and how to continue the trace of the record that carried it."""

    event: E
    topic: str = ""
    event_id: str = ""
    carrier: dict[str, str] = field(default_factory=dict)
    traced_span: bool = False
    spanned: bool = False  # traced() was used: the record has its consumer span

    def traced(self) -> AbstractContextManager[object]:
        """The consumer span of this record: what is staged inside it carries its trace."""
        if not self.traced_span:
            return nullcontext()
        self.spanned = True
        return consumer_span(
            f"{self.topic} process",
            self.carrier,
            **{"messaging.message.id": self.event_id, "cloudevents.event_type": self.type},
        )

    @property
    def type(self) -> str:
        ce_type: Callable[[], str] | None = getattr(self.event, "ce_type", None)
        return ce_type() if ce_type else ""


def batched(form: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    """The one-event handler of a batch handler (same name, same keywords); the batch form
    stays reachable as its `batch` attribute."""

    @functools.wraps(form)
    async def one(session: AsyncSession, event: Any, **bound: Any) -> object:
        return await run(form, session, [Delivered(event)], **bound)

    one.batch = form  # type: ignore[attr-defined]
    return one


async def run(
    form: BatchForm, session: AsyncSession, batch: Sequence[Delivered[Any]], **bound: Any
) -> object:
    """A batch handler's work, its outbox rows written in one statement at the end."""
    async with staged_in_bulk(session):
        return await form(session, batch, **bound)


def batch_form(handler: Callable[..., Awaitable[object]]) -> BatchForm | None:
    """The batch form of a handler made by `batched` (through any `partial`s binding its
    keywords), or None for a one-event handler."""
    bound: dict[str, Any] = {}
    while isinstance(handler, partial):
        if handler.args:
            return None
        bound = {**handler.keywords, **bound}
        handler = handler.func
    form: BatchForm | None = getattr(handler, "batch", None)
    if form is None:
        return None
    return partial(form, **bound) if bound else form


def runs(
    items: Sequence[E],
    kind: Callable[[E], Hashable | None],
    person: Callable[[E], str | None],
) -> list[list[E]]:
    """A consumer batch as the runs to work, in order. An item of no kind (a one-event
    handler's), or about no one person, is a run of its own that nothing moves across.
    The others gather by kind: an item joins the latest run of its kind unless a later run
    holds an event of the same person (then it opens a new run), so each person's events
    keep their order and only different people's events change places."""
    out: list[list[E]] = []
    latest: dict[Hashable, int] = {}  # kind -> its open run, since the last barrier
    last: dict[str, int] = {}  # person -> the last run with one of their events
    for item in items:
        k, p = kind(item), person(item)
        if k is None or p is None:
            out.append([item])
            latest.clear()
            last.clear()
            continue
        i = latest.get(k)
        if i is None or last.get(p, -1) > i:
            out.append([])
            i = latest[k] = len(out) - 1
        out[i].append(item)
        last[p] = i
    return out


def rounds(items: Sequence[E], key: Callable[[E], K]) -> Iterator[list[E]]:
    """The items in rounds: the first item of each key, then the second, ...; in each
    round the items keep their order. One round when no key repeats."""
    seen: dict[K, int] = {}
    split: list[list[E]] = []
    for item in items:
        n = seen.get(key(item), 0)
        seen[key(item)] = n + 1
        if n == len(split):
            split.append([])
        split[n].append(item)
    yield from split
