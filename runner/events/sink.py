"""The one place session events go: the audit ledger first, then the bus.

Recording is fail-closed: when the ledger cannot append, ``emit`` raises
``AuditUnavailableError`` and the caller does not carry out the action it describes.

Events reach the bus in the order the ledger numbered them. The ledger's writer takes
appends in the order they were submitted, but the coroutines waiting on them may wake
in another order; a live subscriber that saw seq 11 before 10 would skip 10 for good.
So each emit takes a ticket before it submits, and publication follows ticket order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from runner.core import Actor, utcnow
from runner.errors import AuditUnavailableError
from runner.events.bus import Event, EventBus

log = logging.getLogger(__name__)

#: Appends one audit event and returns its ledger (seq, ts) once it is durable; raises if not.
AuditAppend = Callable[[str, Actor, str | None, Mapping[str, Any]], Awaitable[tuple[int, str]]]


class EventRecorder:
    """``EventSink`` that audits, then publishes (in ledger order)."""

    def __init__(self, bus: EventBus, audit: AuditAppend | None = None) -> None:
        self._bus = bus
        self._audit = audit
        self._next_ticket = 0
        self._next_publish = 0
        self._ready: dict[int, Event | None] = {}

    async def emit(
        self, type: str, *, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> None:
        await self.record(type, actor=actor, session=session, data=data)

    async def record(
        self, type: str, *, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> int | None:
        """``emit``, returning the ledger seq of the event (None without a ledger)."""
        ticket = self._next_ticket
        self._next_ticket += 1
        event: Event | None = None
        try:
            placed = await self._append(type, actor, session, data)
            seq, at = (placed[0], _parse_ts(placed[1])) if placed else (None, utcnow())
            event = Event(type, session, actor.subject, actor.tenant, dict(data), at, seq)
            return seq
        finally:
            # Also on failure or cancellation: a ticket that never publishes would hold
            # back every later event.
            self._ready[ticket] = event
            self._release()

    async def _append(
        self, type: str, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> tuple[int, str] | None:
        if self._audit is None:
            return None
        try:
            return await self._audit(type, actor, session, data)
        except Exception as exc:
            log.error("audit ledger refused %s for session %s: %s", type, session, exc)
            raise AuditUnavailableError(
                "the audit ledger cannot record this action, so it was not carried out",
                details={"event": type},
            ) from exc

    def _release(self) -> None:
        while self._next_publish in self._ready:
            event = self._ready.pop(self._next_publish)
            self._next_publish += 1
            if event is not None:
                self._bus.publish(event)


def _parse_ts(ts: str) -> datetime:
    """The ledger's timestamp, so a live event says the same time as its replay."""
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
