"""Starts that wait in line for a place under the session quotas (opt-in).

A start over a running or per-minute quota is refused with 429 unless the request asks
to wait (``"queue": true``) and its policy allows it (``container.queue``). Then the
session is created in state ``queued``, already judged by its policy and with its
workspace admitted, and this queue starts it when a place frees: when a session ends,
and when a per-minute window has passed.

Order: first come, first started. An entry that still does not fit is passed over only
for a limit that is not the next one's too: a tenant's (or user's) own quota holds back
that tenant's (or user's) later entries, never another tenant's; the server-wide limits
hold back everyone. So no entry overtakes an earlier one that waits for the same place.

The line lives in this controller's memory and is bounded (``WARDEN_MAX_QUEUED``): a
restart fails the waiting sessions (they say why) rather than starting them unasked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runner.core import Actor
from runner.errors import RateLimitedError
from runner.sessions.model import SessionRecord

log = logging.getLogger(__name__)

#: Limits that hold back every later entry (the server's, not one tenant's).
_SERVER_LIMITS = frozenset({"sessions", "host_memory"})
#: How long the line sleeps when nothing tells it a place may have freed.
_IDLE_RECHECK_SECONDS = 5.0


@dataclass
class Waiting:
    """One start in line: what creating it had already decided."""

    record: SessionRecord
    actor: Actor
    #: What the start needs later (workspace admission, profile, image), opaque here.
    prepared: Any


#: Raises RateLimitedError when the entry does not fit now.
Admit = Callable[[Waiting], Awaitable[None]]
#: Starts the entry (it fits); raising fails that entry only.
Begin = Callable[[Waiting], Awaitable[None]]
#: Tells the waiting sessions their new positions.
Renumber = Callable[[list[Waiting]], Awaitable[None]]


class StartQueue:
    """The line of waiting starts, and the task that starts them as places free."""

    def __init__(
        self, limit: int, *, admit: Admit, begin: Begin, renumber: Renumber, lock: asyncio.Lock
    ) -> None:
        self.limit = limit
        self._admit = admit
        self._begin = begin
        self._renumber = renumber
        #: The manager's create lock: admission and start are one step, as for creates.
        self._lock = lock
        self._line: list[Waiting] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._line)

    @property
    def is_full(self) -> bool:
        return len(self._line) >= self.limit

    def add(self, waiting: Waiting) -> int:
        """Put ``waiting`` at the end of the line; its 1-based position."""
        self._line.append(waiting)
        self._ensure_running()
        return len(self._line)

    def remove(self, session_id: str) -> Waiting | None:
        """Take a session out of the line (deleted while it waited)."""
        for index, waiting in enumerate(self._line):
            if waiting.record.id == session_id:
                del self._line[index]
                self.wake()
                return waiting
        return None

    def position(self, session_id: str) -> int | None:
        for index, waiting in enumerate(self._line):
            if waiting.record.id == session_id:
                return index + 1
        return None

    def wake(self) -> None:
        """A place may have freed (a session ended): look at the line again."""
        self._wake.set()

    def drain(self) -> list[Waiting]:
        """Empty the line (the controller is closing) and stop looking at it."""
        line, self._line = self._line, []
        if self._task is not None:
            self._task.cancel()
        return line

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="warden-start-queue")

    async def _run(self) -> None:
        while self._line:
            self._wake.clear()
            try:
                retry = await self.dispatch()
            except Exception:
                log.exception("the start queue failed a round; trying again")
                retry = _IDLE_RECHECK_SECONDS
            if not self._line:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=retry or _IDLE_RECHECK_SECONDS)

    async def dispatch(self) -> float | None:
        """Start every entry that fits now, in order; seconds until a refusal may lift."""
        retry: float | None = None
        held_tenants: set[str] = set()
        held_users: set[tuple[str, str]] = set()
        started = False
        async with self._lock:
            for waiting in list(self._line):
                actor = waiting.actor
                if actor.tenant in held_tenants or (actor.tenant, actor.subject) in held_users:
                    continue
                try:
                    await self._admit(waiting)
                except RateLimitedError as exc:
                    retry = exc.retry_after if retry is None else min(retry, exc.retry_after)
                    if exc.limit in _SERVER_LIMITS:
                        break
                    if exc.limit == "sessions_per_user":
                        held_users.add((actor.tenant, actor.subject))
                    else:  # per tenant: running, or starts per minute
                        held_tenants.add(actor.tenant)
                    continue
                self._line.remove(waiting)
                started = True
                try:
                    await self._begin(waiting)
                except Exception:
                    log.exception("queued session %s failed to start", waiting.record.id)
            if started and self._line:
                await self._renumber(list(self._line))
        return retry
