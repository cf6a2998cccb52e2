"""This replica's tenures: the sessions it holds a lease on, and until when it may act.

A lease is trusted only until the moment its last renewal was *sent* plus the lease
duration, less a safety margin: the database counts the expiry from when it ran the
renewal, which is later, so this replica stops acting on a session before any other
replica can be given it, even when the database is unreachable and the renewal never
answers. The token is what the store fences writes with (``SqlSessionStore``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from runner.sessions.ownership import Lease, LeaseStore

log = logging.getLogger(__name__)


@dataclass
class _Held:
    token: int
    until: float  # monotonic


class Tenures:
    """Leases held by ``replica``: claim, batch renewal, handover."""

    def __init__(
        self, leases: LeaseStore, replica: str, *, duration: float, margin: float = 1.0
    ) -> None:
        self.leases = leases
        self.replica = replica
        self.duration = duration
        self._margin = min(margin, duration / 4)
        self._held: dict[str, _Held] = {}

    def fence(self, session_id: str) -> tuple[str, int] | None:
        """(replica, token) this replica writes the session under; None if never held."""
        held = self._held.get(session_id)
        return (self.replica, held.token) if held is not None else None

    def holds(self, session_id: str) -> bool:
        """Whether this replica may act on the session now."""
        held = self._held.get(session_id)
        return held is not None and time.monotonic() < held.until

    def tenure(self, session_id: str) -> Callable[[], bool]:
        """A check true only while this replica's current tenure of the session lasts.

        Not ``holds``: a lease that lapsed and was taken again (by this same replica) is a
        new tenure, and whatever was begun in the old one must not act in it.
        """
        held = self._held.get(session_id)
        token = held.token if held is not None else None

        def lasts() -> bool:
            now = self._held.get(session_id)
            return now is not None and now.token == token and time.monotonic() < now.until

        return lasts

    def held_ids(self) -> list[str]:
        return list(self._held)

    async def claim(self, session_id: str) -> Lease | None:
        """Take the session's lease if it is free, expired or ours; None if another holds it."""
        sent = time.monotonic()
        lease = await asyncio.to_thread(self.leases.acquire, session_id, self.replica)
        if lease is not None:
            self._held[session_id] = _Held(lease.token, sent + self.duration - self._margin)
        return lease

    async def renew(self, within: float) -> list[str]:
        """Renew the leases held here in one statement; returns the sessions this replica lost.

        Lost: renewed by nobody (expired meanwhile, taken over), or not renewed in time
        (the database is unreachable) and past the moment this replica may trust it.
        """
        if not self._held:
            return []
        sent = time.monotonic()
        # Only the leases held here: one this replica let go of (its renewal hung past the
        # deadline) must expire for another replica to take, not be renewed by the next
        # round that gets through, for a session nobody here acts on any more.
        named = list(self._held)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancel that
            # lands as the renewal answers, and the lease loop then outlives shutdown.
            async with asyncio.timeout(within):
                renewed = await asyncio.to_thread(self.leases.renew, self.replica, named)
        except Exception as exc:  # the database is unreachable: trust only what is left
            log.warning("lease renewal failed (%s): %s", type(exc).__name__, exc)
            return self.overdue()
        kept = {lease.session_id: lease.token for lease in renewed}
        lost = []
        for session_id in named:  # one claimed meanwhile was not renewed, nor lost
            held = self._held.get(session_id)
            if held is None:
                continue
            if kept.get(session_id) == held.token:
                held.until = sent + self.duration - self._margin
            else:
                lost.append(session_id)
                del self._held[session_id]
        return lost + self.overdue()

    def overdue(self) -> list[str]:
        """Let go of, and name, the sessions whose lease this replica may trust no longer."""
        now = time.monotonic()
        lost = [sid for sid, held in self._held.items() if held.until <= now]
        for session_id in lost:
            del self._held[session_id]
            log.warning("session %s: lease not renewed in time; no longer acting on it", session_id)
        return lost

    def next_deadline(self) -> float | None:
        """The monotonic moment the first held lease stops being trusted; None if none."""
        return min((held.until for held in self._held.values()), default=None)

    def let_go(self, session_id: str) -> None:
        """Stop holding the session here (it ended, or another replica has it)."""
        self._held.pop(session_id, None)

    async def hand_over(self) -> int:
        """Expire every lease of this replica now (a graceful shutdown): others take over."""
        self._held.clear()
        return await asyncio.to_thread(self.leases.release, self.replica)
