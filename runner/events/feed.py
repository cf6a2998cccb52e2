"""Catalogue events for one subscriber: replayed from the ledger, then followed live.

A stream subscribes to the bus *before* it reads the ledger, so nothing committed in
between can fall through: what the replay already returned is skipped when it also
arrives live (by seq). A subscriber whose bounded queue overflowed is not slowed down
nor allowed to slow anyone: it re-reads from the ledger after the last id it delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from audit.event import format_ts
from audit.ledger import Ledger
from audit.stores.base import EventFilter
from runner.events.bus import Event, EventBus
from runner.events.catalogue import LEDGER_TYPES, PublicEvent, public_event

#: The tenant a session belongs to (None: no such session). Events of the system actor
#: carry the default tenant in the ledger, so visibility is decided by the session's own.
TenantOf = Callable[[str], str | None]

_PAGE = 500
#: Live events kept mapped (and encoded) for the subscribers that are still behind.
_RECENT = 2048


@dataclass(frozen=True)
class Selection:
    """Which catalogue events a subscriber gets; ``None`` means any."""

    session: str | None = None
    #: Only these tenants' sessions (None: every tenant, for a global admin).
    tenant: str | None = None
    types: frozenset[str] | None = None
    #: Keep only the ``session.state`` events of these states (other types pass).
    states: frozenset[str] | None = None

    def admits(self, event: PublicEvent) -> bool:
        if self.session is not None and event.session != self.session:
            return False
        if self.tenant is not None and event.tenant != self.tenant:
            return False
        if self.types is not None and event.type not in self.types:
            return False
        return not (
            self.states is not None
            and event.type == "session.state"
            and event.data.get("state") not in self.states
        )


class EventFeed:
    """Replays and follows the catalogue for SSE clients and the webhook outbox."""

    def __init__(
        self, ledger: Ledger, bus: EventBus, tenant_of: TenantOf, *, queue_size: int = 256
    ) -> None:
        self._ledger = ledger
        self._bus = bus
        self._tenant_of = tenant_of
        self._queue_size = queue_size
        self._recent: dict[int, PublicEvent] = {}

    @property
    def tenant_of(self) -> TenantOf:
        return self._tenant_of

    def head(self) -> int | None:
        """The seq of the newest ledger event (None when the ledger is empty)."""
        size, _ = self._ledger.store.head()
        return size - 1 if size else None

    def page(
        self, selection: Selection, after: int | None, limit: int = _PAGE
    ) -> tuple[list[PublicEvent], int | None, bool]:
        """Catalogue events after ``after`` (blocking: call in a thread).

        Returns:
            The events, the seq the read reached, and whether more may follow.
        """
        flt = EventFilter(session=selection.session)
        page = self._ledger.query(flt, after_seq=after, limit=limit)
        events: list[PublicEvent] = []
        reached = after
        for entry in page.entries:
            event = entry.event
            reached = event.seq
            if event.type not in LEDGER_TYPES or event.session is None or event.seq is None:
                continue
            public = public_event(
                seq=event.seq,
                type=event.type,
                timestamp=event.ts,
                session=event.session,
                tenant=self._tenant_of(event.session) or event.tenant,
                actor=event.actor,
                data=event.data,
            )
            if public is not None and selection.admits(public):
                events.append(public)
        return events, reached, page.next_cursor is not None

    async def replay(
        self, selection: Selection, after: int | None
    ) -> AsyncIterator[tuple[PublicEvent | None, int | None]]:
        """Every stored catalogue event after ``after``, with the seq each read reached."""
        more = True
        while more:
            events, after, more = await asyncio.to_thread(self.page, selection, after)
            for event in events:
                yield event, event.id
            yield None, after

    async def follow(
        self, selection: Selection, after: int | None, *, wake_seconds: float = 5.0
    ) -> AsyncIterator[list[PublicEvent]]:
        """Replay after ``after``, then live, forever (cancel to stop), in batches: what
        arrived together goes out together (one write per client, not one per event)."""
        with self._bus.listen(self._queue_size) as listener:
            last = after
            while True:
                listener.lost = False
                async for event, reached in self.replay(selection, last):
                    if event is not None:
                        yield [event]
                    last = reached if reached is not None else last
                while not listener.lost:
                    await listener.wait(wake_seconds)
                    batch: list[PublicEvent] = []
                    for live in listener.take():
                        if live.seq is None or (last is not None and live.seq <= last):
                            continue
                        last = live.seq
                        public = self._public(live)
                        if public is not None and selection.admits(public):
                            batch.append(public)
                    if batch:
                        yield batch
                # Overflowed: what did not fit is in the ledger; read it from there.
                listener.take()

    def _public(self, event: Event) -> PublicEvent | None:
        """The catalogue event for a live one, made once for all its subscribers."""
        if event.seq is None or event.session is None:
            return None
        cached = self._recent.get(event.seq)
        if cached is not None:
            return cached
        public = public_event(
            seq=event.seq,
            type=event.type,
            timestamp=format_ts(event.at),
            session=event.session,
            tenant=self._tenant_of(event.session) or event.tenant,
            actor=event.actor,
            data=event.data,
        )
        if public is not None:
            self._recent[event.seq] = public
            while len(self._recent) > _RECENT:
                self._recent.pop(next(iter(self._recent)))
        return public
