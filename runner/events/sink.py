"""The one place session events go: the audit ledger first, then the bus.

Recording is fail-closed: when the ledger cannot append, ``emit`` raises
``AuditUnavailableError`` and the caller does not carry out the action it describes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runner.core import Actor, utcnow
from runner.errors import AuditUnavailableError
from runner.events.bus import Event, EventBus

log = logging.getLogger(__name__)

#: Appends one audit event and returns once it is durable; raises if it cannot.
AuditAppend = Callable[[str, Actor, str | None, Mapping[str, Any]], Awaitable[None]]


class EventRecorder:
    """``EventSink`` that audits, then publishes."""

    def __init__(self, bus: EventBus, audit: AuditAppend | None = None) -> None:
        self._bus = bus
        self._audit = audit

    async def emit(
        self, type: str, *, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> None:
        if self._audit is not None:
            try:
                await self._audit(type, actor, session, data)
            except Exception as exc:
                log.error("audit ledger refused %s for session %s: %s", type, session, exc)
                raise AuditUnavailableError(
                    "the audit ledger cannot record this action, so it was not carried out",
                    details={"event": type},
                ) from exc
        self._bus.publish(Event(type, session, actor.subject, actor.tenant, dict(data), utcnow()))
